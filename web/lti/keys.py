"""Stride's LTI key pairs: generated on first use, stored in `LtiKey`, published as a JWKS, and
rotated on request (the newest key signs; the previous one stays published until the next
rotation, so tokens signed just before a rotation still verify). Functions never commit."""

from __future__ import annotations

import json

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwcrypto.jwk import JWK
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from web.models import LtiKey, utcnow

KEY_BITS = 2048


def _new_key() -> LtiKey:
    private = rsa.generate_private_key(public_exponent=65537, key_size=KEY_BITS)
    private_pem = private.private_bytes(serialization.Encoding.PEM,
                                        serialization.PrivateFormat.PKCS8,
                                        serialization.NoEncryption()).decode()
    public_pem = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    return LtiKey(kid=public_jwk(public_pem)["kid"], private_pem=private_pem,
                  public_pem=public_pem)


def public_jwk(public_pem: str) -> dict:
    """The public JWK of a PEM key, with its RFC 7638 thumbprint as `kid` (as PyLTI1p3 sets it)."""
    jwk = json.loads(JWK.from_pem(public_pem.encode()).export_public())
    jwk.update(alg="RS256", use="sig")
    return jwk


def _live(session: Session) -> list[LtiKey]:
    return list(session.scalars(select(LtiKey).where(LtiKey.retired_at.is_(None))
                                .order_by(LtiKey.id.desc())))


def signing_key(session: Session) -> LtiKey:
    """The key Stride signs with: the newest unretired one, made now if there is none."""
    live = _live(session)
    if live:
        return live[0]
    key = _new_key()
    session.add(key)
    session.flush()
    return key


def rotate(session: Session) -> LtiKey:
    """Make a new signing key and retire every key older than the one it replaces."""
    live = _live(session)
    if len(live) > 1:
        session.execute(update(LtiKey).where(LtiKey.id.in_([k.id for k in live[1:]]))
                        .values(retired_at=utcnow()))
    key = _new_key()
    session.add(key)
    session.flush()
    return key


def jwks(session: Session) -> dict:
    """Every unretired public key, as a JSON Web Key Set (a key is made on first use)."""
    signing_key(session)
    return {"keys": [public_jwk(key.public_pem) for key in _live(session)]}
