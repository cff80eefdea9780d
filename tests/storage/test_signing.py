from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from genloom.storage.errors import InvalidSignature
from genloom.storage.signing import UrlSigner

NOW = 1_800_000_000


def _parts(url: str) -> tuple[str, dict[str, str]]:
    split = urlsplit(url)
    return split.path, {k: v[0] for k, v in parse_qs(split.query).items()}


def test_signed_url_shape_and_verify() -> None:
    signer = UrlSigner("s3cret")
    url, exp = signer.sign("images/a.png", expires_s=60, now=NOW)
    path, query = _parts(url)
    assert path == "/media/images/a.png"
    assert exp == NOW + 60 and query["exp"] == str(exp)
    assert len(query["sig"]) == 64
    signer.verify("images/a.png", query["exp"], query["sig"], now=NOW + 59)


def test_base_url_prefix() -> None:
    url, _ = UrlSigner("k", base_url="https://cdn.example.com/").sign("a.png", expires_s=10, now=NOW)
    assert url.startswith("https://cdn.example.com/media/a.png?exp=")


def test_expired() -> None:
    signer = UrlSigner("s3cret")
    _, query = _parts(signer.sign("a.png", expires_s=60, now=NOW)[0])
    with pytest.raises(InvalidSignature) as info:
        signer.verify("a.png", query["exp"], query["sig"], now=NOW + 61)
    assert info.value.code == "signature_expired"
    assert info.value.status == 403


@pytest.mark.parametrize(
    "mutate",
    [
        lambda k, e, s: ("b.png", e, s),  # another key
        lambda k, e, s: (k, str(int(e) + 3600), s),  # extended expiry
        lambda k, e, s: (k, e, s[:-1] + ("0" if s[-1] != "0" else "1")),  # tampered signature
        lambda k, e, s: (k, e, ""),
        lambda k, e, s: (k, None, s),
        lambda k, e, s: (k, "soon", s),
    ],
)
def test_tampered(mutate) -> None:
    signer = UrlSigner("s3cret")
    _, query = _parts(signer.sign("a.png", expires_s=60, now=NOW)[0])
    key, exp, sig = mutate("a.png", query["exp"], query["sig"])
    with pytest.raises(InvalidSignature) as info:
        signer.verify(key, exp, sig, now=NOW)
    assert info.value.code == "invalid_signature"


def test_other_secret_and_method_do_not_verify() -> None:
    _, query = _parts(UrlSigner("one").sign("a.png", expires_s=60, now=NOW)[0])
    with pytest.raises(InvalidSignature):
        UrlSigner("two").verify("a.png", query["exp"], query["sig"], now=NOW)
    with pytest.raises(InvalidSignature):
        UrlSigner("one").verify("a.png", query["exp"], query["sig"], method="PUT", now=NOW)


def test_put_signature_binds_type_and_size() -> None:
    signer = UrlSigner("s3cret")
    url, _ = signer.sign("u.png", expires_s=60, method="PUT", mime="image/png", max_bytes=100, now=NOW)
    _, query = _parts(url)
    assert query["max"] == "100"
    signer.verify("u.png", query["exp"], query["sig"], method="PUT", mime="image/png", max_bytes=100, now=NOW)
    with pytest.raises(InvalidSignature):
        signer.verify("u.png", query["exp"], query["sig"], method="PUT", mime="text/html", max_bytes=100, now=NOW)
    with pytest.raises(InvalidSignature):
        signer.verify("u.png", query["exp"], query["sig"], method="PUT", mime="image/png", max_bytes=10**9, now=NOW)


def test_long_lived_urls_are_stable_within_a_bucket() -> None:
    from genloom.storage.signing import EXPIRY_BUCKET_S

    signer = UrlSigner("secret")
    base = 1_800_000_000  # a bucket boundary
    first, exp = signer.sign("images/a.png", expires_s=3600, now=base + 1)
    second, _ = signer.sign("images/a.png", expires_s=3600, now=base + 200)
    assert first == second and exp % EXPIRY_BUCKET_S == 0 and base + 1 + 3600 <= exp < base + 3600 + 2 * EXPIRY_BUCKET_S
    signer.verify("images/a.png", str(exp), parse_qs(urlsplit(first).query)["sig"][0], now=base + 3600)
