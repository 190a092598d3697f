"""The commitment letter (承诺书) every expert signs at check-in, and its digest.

The text is the one shown in the seat page; the ``commit`` event records its SHA-256, so the
archive says which wording each expert accepted. A new wording gets a new digest.
"""

from __future__ import annotations

import hashlib

COMMITMENT_TITLE = "评标专家承诺书"
COMMITMENT_LEAD = "本人作为本项目评标委员会成员，郑重承诺："
COMMITMENT_CLAUSES = (
    "遵守招标投标法律法规和评标纪律，按照招标文件规定的评标标准和方法，客观、公正、独立地履行评标职责；",
    "与投标人不存在利害关系，不存在应当回避的情形；如有，立即申请回避；",
    "不私下接触投标人，不收受投标人或其他利害关系人的财物或其他好处；",
    "不透露对投标文件的评审和比较、中标候选人的推荐情况以及与评标有关的其他情况；",
    "评标期间服从主持人和工作人员的管理，全程接受录音录像和监督。",
)


def commitment_text() -> str:
    """The letter as one text: title, lead and numbered clauses, one per line."""
    clauses = [f"{i}. {clause}" for i, clause in enumerate(COMMITMENT_CLAUSES, 1)]
    return "\n".join((COMMITMENT_TITLE, COMMITMENT_LEAD, *clauses))


COMMITMENT_SHA256 = hashlib.sha256(commitment_text().encode("utf-8")).hexdigest()
