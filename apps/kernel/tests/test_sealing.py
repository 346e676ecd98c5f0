import pytest
from django.test import override_settings

from apps.kernel import sealing
from apps.kernel.secrets import fernet_key

pytestmark = pytest.mark.database_independent


def test_a_sealed_secret_opens_and_does_not_show():
    token = sealing.seal("hunter2-password")
    assert "hunter2" not in token
    assert sealing.unseal(token) == "hunter2-password"


def test_a_new_first_key_still_opens_what_the_old_one_sealed():
    old, new = fernet_key(), fernet_key()
    with override_settings(BERTH_SEALING_KEYS=[old]):
        token = sealing.seal("s3cret")
    with override_settings(BERTH_SEALING_KEYS=[new, old]):
        assert sealing.unseal(token) == "s3cret"
        assert sealing.unseal(sealing.seal("again")) == "again"
    with override_settings(BERTH_SEALING_KEYS=[new]):
        with pytest.raises(sealing.SealedValueUnreadable):
            sealing.unseal(token)


def test_an_altered_value_is_refused():
    token = sealing.seal("value")
    altered = token[:-6] + ("A" if token[-6] != "A" else "B") + token[-5:]
    with pytest.raises(sealing.SealedValueUnreadable):
        sealing.unseal(altered)
