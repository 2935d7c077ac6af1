import pytest

from tests.webhooks.receiver import Receiver


@pytest.fixture
def receiver():
    """A started receiver; its secret is set once an endpoint exists (make_endpoint)."""
    r = Receiver().start()
    yield r
    r.stop()


@pytest.fixture
def make_endpoint(app):
    """An active endpoint for these events pointing at `receiver`, through the admin operation."""
    from portal.webhooks import operations
    from tests.conftest import user

    def make(receiver, events=None, name="ERP 补偿"):
        from portal.webhooks.events import EVENTS
        endpoint = operations.add_endpoint(user("admin"), name=name, url=receiver.url,
                                           events=list(events or EVENTS))
        receiver.secret = endpoint.secret
        return endpoint
    return make
