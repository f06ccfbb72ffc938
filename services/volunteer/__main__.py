"""Run the volunteer service: `python -m services.volunteer`."""

import uvicorn

from services.volunteer.app import VolunteerSettings, create_app

if __name__ == "__main__":
    settings = VolunteerSettings()
    uvicorn.run(
        create_app(settings), host=settings.host, port=settings.port, log_level="info", access_log=False
    )
