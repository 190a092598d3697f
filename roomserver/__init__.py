"""The domain: what a trading centre, a session and its committee are, and the rules they follow.

``model`` and ``store`` (SQLAlchemy; the schema in ``migrations``, owned by Alembic); ``policy``
the one table of who may do what; ``workflow`` the committee's course as a pure state machine,
with ``committee``, ``election``, ``motions`` and ``lots``; ``opening`` the bid
opening (开标) as another, with ``openingstate``, ``readout``, ``conduct``, ``sealing`` (the
sealed bids), ``benchmark`` and ``amounts``; ``rules``, ``warnings``,
``disclosure``, ``access``, ``links``, ``letters``, ``signatures``: the standard's other rules;
``pushes`` and ``webhooks`` what the provincial platform is told and how it is signed (5.5);
``demo`` demo data. Imports only the standard library, SQLAlchemy, Alembic and cryptography; no
network, media or web library and no other package of ours.
"""
