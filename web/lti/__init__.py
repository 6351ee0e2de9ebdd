"""LTI 1.3 Advantage tool side, on PyLTI1p3: Stride inside an LMS (Canvas, Moodle, Open edX...).

`keys` holds Stride's signing keys and JWKS; `config` turns the registrations stored in the
database into PyLTI1p3's tool configuration; `launch` checks a launch (PyLTI1p3's checks plus the
ones it leaves to the tool: audience, azp, expiry and one use per nonce); `accounts` maps an LMS
user (issuer, sub) to a Stride account; `outcomes` sends scores back through Assignment and Grade
Services from an outbox; `views` is the blueprint; `cookies` the iframe-friendly session cookie
and frame-ancestors of LTI sessions; `urls` the policy every outgoing LTI request follows
(https, public addresses, judged when connecting and on each redirect).
"""
