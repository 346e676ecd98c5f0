import pytest

from apps.kernel.digests import DigestAlgorithmUnsupported, DigestInvalid, parse_digest

HEX = "a" * 64


def test_a_digest_splits_into_algorithm_and_hex():
    assert parse_digest(f"sha256:{HEX}") == ("sha256", HEX)


@pytest.mark.parametrize(
    ("value", "algorithm", "message"),
    [
        ("sha256", "", "invalid digest 'sha256'"),
        ("", "", "invalid digest ''"),
        (f"sha256:{HEX[:-1]}", "sha256", f"invalid sha256 digest 'sha256:{HEX[:-1]}'"),
    ],
)
def test_an_invalid_digest_says_which_and_why(value, algorithm, message):
    with pytest.raises(DigestInvalid) as refused:
        parse_digest(value)
    assert type(refused.value) is DigestInvalid
    assert (refused.value.digest, refused.value.algorithm, refused.value.message) == (value, algorithm, message)


def test_an_unknown_algorithm_is_an_invalid_digest_naming_it():
    with pytest.raises(DigestAlgorithmUnsupported) as refused:
        parse_digest(f"md5:{HEX[:32]}")
    assert isinstance(refused.value, DigestInvalid)
    assert refused.value.algorithm == "md5"
    assert refused.value.message == "digest algorithm 'md5' is not supported"
