"""The demo finalises 2022 (考核结果公示): after the load, every demo court has a frozen version of
the year whose grades are there. The loader waits for the worker first: poll."""

import httpx

from tests.conftest import URLS, poll
from tests.demo.test_demo_loaded import DEADLINE_S, DEMO_COURTS
from tools.demo.city import build_city

MEMBERS = {m.member_id for m in build_city().members}


async def test_every_demo_court_has_a_finalised_2022_with_its_grades(tokens):
    headers = {"Authorization": f"Bearer {tokens['reader']}"}
    async with httpx.AsyncClient(base_url=URLS["scoring"], timeout=60, headers=headers) as client:

        async def latest() -> dict[str, dict | None]:
            found = {}
            for court in DEMO_COURTS:
                r = await client.get(
                    "/v1/finalisations", params={"year": "2022", "court": court, "live": "false"}
                )
                assert r.status_code == 200, r.text
                versions = r.json()["versions"]
                found[court] = versions[-1] if versions else None
            return found

        frozen = await poll(latest, lambda f: all(f.values()), deadline_s=DEADLINE_S, every_s=5)
    missing = [c for c, v in frozen.items() if v is None]
    assert not missing, f"no finalised 2022 for {missing}: does `python -m tools.demo load` finalise?"
    graded: set[str] = set()
    for court, version in frozen.items():
        assert version is not None
        grades = version["content"]["grades"]
        assert grades, f"court {court}'s finalised 2022 has no grades"
        assert all(g["label"] in ("好", "较好", "一般", "较差") and g["reasons"] for g in grades)
        graded |= {g["member_id"] for g in grades}
    assert MEMBERS <= graded  # every demo member's grade is frozen in their court's version
