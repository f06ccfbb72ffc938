"""The topic of closing the year (考核结果公示 and 申诉), beside the registry in shared/contracts.py:
finalised versions, appeals and decisions, kept forever, so a rescore never moves a frozen year."""

from shared.contracts import Topic

FINALISATIONS = Topic(
    "assessment.finalisations.v1",
    key="court|year, UTF-8: a court's year in one partition, so its versions and appeals keep one order",
    value="CloudEvents 1.0, structured JSON mode; data: a finalised version with its frozen content, "
    "an appeal filed (with its reason) or an appeal decided (services/scoring/core/finalisation.py)",
)
