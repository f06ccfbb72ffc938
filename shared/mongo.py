"""MongoDB adapter pieces: one client factory and a readiness check, for MongoDB and FerretDB alike."""

from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import PyMongoError

from shared.settings import MongoSettings


def connect(settings: MongoSettings, app_name: str) -> AsyncMongoClient:
    """A client that fails fast (server selection timeout) instead of hanging requests."""
    return AsyncMongoClient(
        settings.url,
        appname=app_name,
        serverSelectionTimeoutMS=settings.server_selection_timeout_ms,
        tz_aware=True,
    )


def database(client: AsyncMongoClient, settings: MongoSettings) -> AsyncDatabase:
    return client[settings.database]


async def check(client: AsyncMongoClient) -> str | None:
    """None when the server answers ping, else the reason (without the connection string)."""
    try:
        await client.admin.command("ping")
    except PyMongoError as err:
        return f"mongodb: {type(err).__name__}"
    return None
