"""Reminders (提醒): due/overdue notices and weekly digests of the required cadences, and their webhooks."""
