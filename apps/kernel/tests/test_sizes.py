import pytest

from apps.kernel.sizes import binary_size

pytestmark = pytest.mark.database_independent


@pytest.mark.parametrize(
    "value, said",
    [
        (0, "0 B"),
        (1023, "1023 B"),
        (1024, "1.0 KiB"),
        (1536, "1.5 KiB"),
        (5 * 2**20, "5.0 MiB"),
        (3 * 2**50, "3072.0 TiB"),
    ],
)
def test_sizes_are_said_in_binary_units(value, said):
    assert binary_size(value) == said.replace(" ", "\xa0")  # one line: a no-break space
