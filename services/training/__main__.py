"""Run the training service: `python -m services.training`."""

import uvicorn

from services.training.app import TrainingSettings, create_app

if __name__ == "__main__":
    settings = TrainingSettings()
    uvicorn.run(
        create_app(settings), host=settings.host, port=settings.port, log_level="info", access_log=False
    )
