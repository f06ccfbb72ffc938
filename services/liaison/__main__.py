"""Run the liaison service: `python -m services.liaison`."""

import uvicorn

from services.liaison.app import LiaisonSettings, create_app

if __name__ == "__main__":
    settings = LiaisonSettings()
    uvicorn.run(
        create_app(settings), host=settings.host, port=settings.port, log_level="info", access_log=False
    )
