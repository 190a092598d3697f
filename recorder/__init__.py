"""The archive: every track recorded as it came, hash-chained events, sealed parts.

Layout of one session's archive (a folder, or an object prefix in S3-compatible storage)::

    archive/<session_id>/
        part-0001/                    one part per uninterrupted run of the server
            media/<track_id>/000001.webm  segments of one track (VP8 or Opus in WebM, as received;
                                          H.264 room cameras: 000001.mp4, fragmented MP4)
            segments.jsonl            journal: one line per finished segment (written as it closes)
            events.jsonl              the session's events of this part, hash-chained
            manifest.json             tracks, segments (size, SHA-256, SM3, durations, spans), gaps
            ed25519.pub.pem           the public keys that signed it (Ed25519, SM2)
            sm2.pub.pem
            SHA256SUMS                `sha256sum -c` list of every file above
            seal.json                 Merkle roots, last event digests, previous seal, state, keys
            seal.ed25519.sig          Ed25519 signature of the exact bytes of seal.json
            seal.sm2.sig              SM2 signature of the same bytes (SM3, default identifier)
            seal.tsr                  RFC 3161 time-stamp of seal.json's SHA-256, from the TSA
        part-0002/ ...                after a restart: its first event chains from part 1's seal
        documents/                    the report, signatures and other documents (by SHA-256)
        README.txt                    how to check the archive with sha256sum and openssl

Track ids: ``<venue_id>-<seat_no>-camera|microphone|desktop``, ``room-grid``, ``room-mix``,
``room-camera-<id>``; ``evidence/`` holds the warnings' evidence pictures.

Canonical JSON: everything hashed or signed (``manifest.json``, ``seal.json``, each line of
``events.jsonl``) is RFC 8785 canonical JSON (``roomserver.canonical``) and carries the archive
format (``"format": 2``, ``recorder.hashing.FORMAT``).

Hash chains: every line of ``events.jsonl`` is a JSON object with ``format``, ``seq``, ``at``,
``kind``, ``actor``, ``data``, ``prev``, ``prev_sm3``, ``hash`` and ``sm3``; ``hash`` and ``sm3``
are the SHA-256 and the SM3 of the canonical JSON of the object without them; ``prev`` and
``prev_sm3`` are those of the line before, for the first line of part 1 64 zeros, for the first
line of a later part the SHA-256 and the SM3 of the previous part's ``seal.json``.

Merkle roots (RFC 6962 shape): leaves are the segment digests in manifest order followed by the
last event's digest; a leaf node is H(0x00 || leaf), an inner node H(0x01 || left || right), an
odd node is promoted unchanged. Computed once with SHA-256 and once with SM3 (GB/T 32905).

Seals: signed with Ed25519 and SM2 by the keys of ``recorder.keys`` (in generations), time-
stamped by the centre's TSA (``recorder.timestamp``); the session's final seal lists its
documents and states its retention, counted from the end of the evaluation.

The package never imports ``media`` or ``signaling``; frames arrive through ``recorder.ports``.
"""
