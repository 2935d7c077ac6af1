"""Redis connection and RQ queues; jobs are enqueued by dotted name with ids only."""
from flask import current_app
from redis import Redis
from rq import Queue

_connections: dict[str, Redis] = {}


def redis() -> Redis:
    url = current_app.config["REDIS_URL"]
    if url not in _connections:
        _connections[url] = Redis.from_url(url)
    return _connections[url]


def queue(name: str = "default") -> Queue:
    return Queue(name, connection=redis())
