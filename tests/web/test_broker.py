"""The embedded default's broker publishes each message whole (registry_project/broker.py)."""

import pytest
from kombu import Connection

import registry_project.celery  # noqa: F401  (registers the transport's name)

pytestmark = pytest.mark.database_independent


@pytest.fixture
def connection(tmp_path):
    folder = str(tmp_path)
    options = {"data_folder_in": folder, "data_folder_out": folder, "control_folder": folder, "store_processed": False}
    with Connection("berth-filesystem://", transport_options=options) as connection:
        yield connection


def test_a_message_goes_through_whole_and_nothing_is_left_half_written(connection, tmp_path):
    queue = connection.SimpleQueue("jobs")
    queue.put({"task": "a", "args": [1, 2]})
    assert [path.name for path in tmp_path.iterdir() if path.name.startswith("writing-")] == []
    assert len([path for path in tmp_path.iterdir() if path.name.endswith(".jobs.msg")]) == 1
    message = queue.get(timeout=1)
    assert message.payload == {"task": "a", "args": [1, 2]}
    message.ack()
    queue.close()


def test_a_file_still_being_written_is_not_taken(connection, tmp_path):
    (tmp_path / "writing-0123").write_bytes(b"")  # what a publisher has not renamed yet
    queue = connection.SimpleQueue("jobs")
    with pytest.raises(queue.Empty):
        queue.get(timeout=0.2)
    queue.close()
