"""CRC32, CRC32C and CRC64NVME: check values, every implementation agrees with the pure
Python one, and combine() equals the CRC of the concatenation (hypothesis)."""

from __future__ import annotations

import zlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from s3kit import crc

CHECK = {"crc32": 0xCBF43926, "crc32c": 0xE3069283, "crc64nvme": 0xAE8B14860A799888}


@pytest.mark.parametrize("alg", crc.ALGORITHMS)
def test_check_values(alg: str) -> None:
    c = crc.new(alg)
    c.update(b"123456789")
    assert c.value == CHECK[alg]
    assert crc._pure(alg)(b"123456789", 0) == CHECK[alg]


def test_crc32_is_zlibs() -> None:
    c = crc.new("crc32")
    c.update(b"hello world")
    assert c.value == zlib.crc32(b"hello world")


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(crc.ALGORITHMS), st.binary(max_size=300), st.binary(max_size=300), st.binary(max_size=50))
def test_combine_equals_crc_of_the_concatenation(alg: str, a: bytes, b: bytes, c: bytes) -> None:
    pure = crc._pure(alg)
    whole = pure(a + b + c, 0)
    ca, cb, cc = pure(a, 0), pure(b, 0), pure(c, 0)
    assert crc.combine(alg, crc.combine(alg, ca, cb, len(b)), cc, len(c)) == whole
    x = crc.Crc(alg, ca, len(a))
    x.extend(crc.Crc(alg, cb, len(b)))
    assert x.value == pure(a + b, 0) and x.length == len(a) + len(b)


@settings(max_examples=50, deadline=None)
@given(st.sampled_from(crc.ALGORITHMS), st.binary(max_size=5000), st.integers(1, 5))
def test_installed_implementation_matches_pure_python_in_chunks(alg: str, data: bytes, pieces: int) -> None:
    c = crc.new(alg)
    step = max(1, len(data) // pieces)
    for i in range(0, len(data), step):
        c.update(memoryview(data)[i:i + step])
    assert c.value == crc._pure(alg)(data, 0) and c.length == len(data)


def test_large_lengths_combine() -> None:
    # a 5 GiB part's CRC shifted in: exercises many bits of the length
    for alg in crc.ALGORITHMS:
        assert crc.combine(alg, 0x1234, 0, 5 << 30) != 0x1234
        assert crc.combine(alg, 7, 9, 0) == 7


def test_base64_values() -> None:
    c = crc.new("crc32")
    c.update(b"abc")
    assert crc.value_of("crc32", c.b64()) == c.value
    assert crc.value_of("crc32", "not base64!") is None
    assert crc.value_of("crc64nvme", c.b64()) is None  # wrong width
