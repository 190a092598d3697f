"""README.txt of a session archive: how to check it with standard tools, Chinese then English."""

from __future__ import annotations

from recorder.keys import SM2_ID

# Checks both event chains of one part with nothing but Python's standard library (SM3 where
# its hashlib has it: OpenSSL 3). Run inside a part folder; the arguments are where the chains
# start: the SHA-256 and the SM3 of the previous part's seal.json, or none for part-0001 (64
# zeros). Prints one line per event and the last digests.
#
# Each line is RFC 8785 canonical JSON, members in name order, so the canonical JSON of the
# record without "hash" and "sm3" is the line with the texts `,"hash":"<64 hex>"` and
# `,"sm3":"<64 hex>"` cut out: the script needs no JSON canonicalizer. "sm3" is the last member;
# the "hash" text is the last of its kind on the line: only "data", which comes before it, holds
# objects, and inside a JSON string a quote is always escaped.
CHAIN_SCRIPT = """\
import hashlib, json, sys
prev = sys.argv[1] if len(sys.argv) > 1 else "0" * 64
prev_sm3 = sys.argv[2] if len(sys.argv) > 2 else "0" * 64
try:
    sm3 = lambda data: hashlib.new("sm3", data).hexdigest()
    sm3(b"")
except ValueError:
    sm3 = None
    print("(no SM3 in this Python: only the SHA-256 chain is checked)")
broken = 0
for n, line in enumerate(open("events.jsonl", "rb"), 1):
    line = line.rstrip(b"\\n")
    r = json.loads(line)
    cut = line.rindex(b',"hash":"')
    body = line[:cut] + line[cut + 74:]
    body = body[: body.rindex(b',"sm3":"')] + b"}"
    ok = r["prev"] == prev and r["hash"] == hashlib.sha256(body).hexdigest()
    if sm3:
        ok = ok and r["prev_sm3"] == prev_sm3 and r["sm3"] == sm3(body)
    broken += not ok
    print(n, r["seq"], "ok" if ok else "BROKEN")
    prev, prev_sm3 = r["hash"], r["sm3"]
print("last", prev, prev_sm3)
sys.exit(1 if broken else 0)
"""


# The commands the README gives, each run by the tests exactly as written here.
SUMS_CHECK = "cd part-0001 && sha256sum -c SHA256SUMS"
ED25519_VERIFY = (
    "openssl pkeyutl -verify -pubin -inkey ed25519.pub.pem -rawin"
    " -in seal.json -sigfile seal.ed25519.sig"
)
SM2_VERIFY = (
    "openssl pkeyutl -verify -pubin -inkey sm2.pub.pem -rawin -digest sm3"
    f" -pkeyopt distid:{SM2_ID} -in seal.json -sigfile seal.sm2.sig"
)
SM2_VERIFY_DGST = (
    f"openssl dgst -sm3 -verify sm2.pub.pem -sigopt distid:{SM2_ID}"
    " -signature seal.sm2.sig seal.json"
)
ED25519_FINGERPRINT = (
    "openssl pkey -pubin -in ed25519.pub.pem -outform DER | tail -c 32 | sha256sum"
)
SM2_FINGERPRINT = "openssl pkey -pubin -in sm2.pub.pem -outform DER | tail -c 65 | sha256sum"
SEAL_SM3 = "openssl dgst -sm3 seal.json"
TSA_VERIFY = (
    "openssl ts -verify -data seal.json -in seal.tsr -CAfile ../tsa-certificates.pem -partial_chain"
)
TSA_SHOW = "openssl ts -reply -in seal.tsr -text"
MANIFEST_SM3 = "openssl dgst -sm3 manifest.json"


def archive_readme(session_id: str, project: str | None) -> str:
    """The README.txt text for one session archive (Chinese first, then English)."""
    project_zh = f"项目：{project}\n" if project else ""
    project_en = f"Project: {project}\n" if project else ""
    # Flush left: a here-document copied from an indented block would not run.
    script = f"python3 - <<'EOF'\n{CHAIN_SCRIPT}EOF"
    return f"""\
远程异地评标 全过程录音录像档案
==============================
会话：{session_id}
{project_zh}
本文件夹是一次评标会话的证据档案，保存期不少于 15 年。任何人都可以用常见工具（sha256sum、
openssl 3、python3）独立核验：没有文件被修改、删除、插入，事件也没有被删改或调换顺序。
`roomserver archive verify <本文件夹>` 会一次完成下面全部检查；以下步骤不依赖本系统。
保存期自评标结束之日起算（北京时间），各分段同一日期，只写一次：状态为 ended 的分段（最后
封存）seal.json 中的 session_ended_at（评标结束时间）与 retention_until；中断后封存的分段
（interrupted）两项均为 null，随整个会话保存到该日期。

目录结构
  part-0001/                 服务器每连续运行一次为一个分段（重启后为 part-0002 …）
    media/<轨道>/000001.webm  各路音视频，按接收原样分段保存（VP8 或 Opus，WebM 封装；
                             H.264 监控摄像头为 000001.mp4，分片 MP4 封装）
    evidence/                告警证据截图（JPEG），其 SHA-256 与 SM3 记录在引用它的事件中
    segments.jsonl           分段日志：每个分段结束时写入一行
    events.jsonl             本分段的事件，SHA-256 与 SM3 双重逐条哈希链接
    manifest.json            轨道、分段（大小、SHA-256、SM3、时长）、中断区间
    ed25519.pub.pem          签名所用的 Ed25519 公钥
    sm2.pub.pem              签名所用的 SM2 公钥（国密）
    SHA256SUMS               以上每个文件的 SHA-256 清单
    seal.json                封存信息：Merkle 根、最后事件摘要、前一分段封存摘要、状态、
                             签名密钥（keys：代次与两把公钥的指纹）
    seal.ed25519.sig         对 seal.json 原始字节的 Ed25519 签名
    seal.sm2.sig             对同一字节的 SM2 签名（SM3 摘要，默认用户标识 {SM2_ID}，
                             DER 编码，GB/T 32918、GB/T 35276）
    seal.tsr                 可信时间戳（RFC 3161）：时间戳服务机构对 seal.json 的 SHA-256
                             签发的时间戳应答（配置了时间戳服务时）
  documents/                 评标报告与手写签名等，以 SHA-256 命名，由引用它的事件记录摘要；
                             评标结束时先设为只读，再逐个（大小、SHA-256、SM3）列入最后封存的
                             seal.json 的 documents；本文件的摘要写在最后一个分段 seal.json 的
                             readme_sha256 与 readme_sm3 中
  relayed/<节点>/<场次>/       副场节点在与主场节点断开期间自行录制的副场监控画面，评标结束后
                             移交并入；其本身是一份完整的封存档案，按以下步骤同样核验

核验步骤（对每个 part-NNNN 目录）
1. 文件完整：
    {SUMS_CHECK}
   并确认 `sha256sum SHA256SUMS` 等于 seal.json 中的 sha256sums_sha256。
2. 签名（两个都应输出 "Signature Verified Successfully"）：
    {ED25519_VERIFY}
    {SM2_VERIFY}
   SM2 签名也可以这样核验（输出 "Verified OK"）：
    {SM2_VERIFY_DGST}
   公钥指纹（应与运营方公布的 archive-keys.json 一致，也写在 seal.json 的 keys 中）：
    {ED25519_FINGERPRINT}
    {SM2_FINGERPRINT}
   运营方的 archive-keys.json 列出每一代密钥及其有效期（证据包中附有一份）：封存时间
   sealed_at 应在签名密钥的有效期内。
3. 清单：`sha256sum manifest.json` 等于 seal.json 的 manifest_sha256；国密 SM3 摘要用
    {MANIFEST_SM3}
   核对 manifest_sm3；每个分段同样可用 `openssl dgst -sm3 media/...` 对照 manifest.json。
   所有被哈希或签名的 JSON（manifest.json、seal.json、events.jsonl 的每一行）都是 RFC 8785
   规范化 JSON（JCS），格式版本见其中的 format 字段（本档案为 2）。
4. 事件链（SHA-256 与 SM3 两条）：events.jsonl 每行是一个 JSON 对象（format、seq、at、kind、
   actor、data、prev、prev_sm3、hash、sm3）。hash 与 sm3 分别是去掉这两个字段后该对象的
   RFC 8785 规范化 JSON 的 SHA-256 与 SM3（即本行删去 ,"hash":"…" 与 ,"sm3":"…" 之后的
   字节）；prev 与 prev_sm3 是上一行的 hash 与 sm3；part-0001 第一行二者均为 64 个 0，之后
   各分段第一行为前一分段 seal.json 的 SHA-256 与 SM3（即 `sha256sum seal.json` 与
   `{SEAL_SM3}`，也写在本分段 seal.json 的 previous_seal_sha256 与 previous_seal_sm3 中）。
   修改、删除、插入或调换任何一行都会使两条链都断开。最后一行的 hash、sm3 与事件条数须等于
   seal.json 中的 last_event_hash、last_event_sm3 与 event_count。下面的脚本只用 Python
   标准库检查一个分段（part-0001 无需参数；之后的分段在 python3 - 后面依次给出两条链的起点）：
{script}
5. Merkle 根：叶子为 manifest.json 中各分段摘要（依次），最后加上最后事件的摘要
   （SHA-256 树用 last_event_hash，SM3 树用 last_event_sm3）；叶节点为 H(0x00||叶子)，内部
   节点为 H(0x01||左||右)，奇数节点原样上移（RFC 6962），分别用 SHA-256 与 SM3 计算，应等于
   merkle_root_sha256 与 merkle_root_sm3。
6. 可信时间戳：seal.json 的 timestamp 说明封存时的情况：requested（已向 tsa 所列的时间戳
   服务申请，应答为 seal.tsr）、unavailable（服务无应答，reason 为原因）或 none configured
   （未配置）。之后可用 `roomserver archive timestamp` 补签，补签的 seal.tsr 同样覆盖原
   seal.json。核验（应输出 "Verification: OK"；tsa-certificates.pem 为时间戳服务机构的证书，
   证据包中位于各分段目录的上一级）：
    {TSA_VERIFY}
   查看时间戳服务给出的时间：
    {TSA_SHOW}

Whole-process recording archive of a remote cross-site tender evaluation
========================================================================
Session: {session_id}
{project_en}
This folder is evidence, kept at least 15 years. Anyone can check with standard tools
(sha256sum, openssl 3, python3) that no file was altered, removed or added, and that no event
was edited, removed, inserted or reordered. `roomserver archive verify <this folder>` does all
of the checks below at once; the steps here do not need this software.

Layout: one part-NNNN folder per uninterrupted run of the server (part-0002 after a restart).
Each holds media/<track>/NNNNNN.webm (the tracks as received: VP8 or Opus in WebM; H.264 room
cameras as NNNNNN.mp4, fragmented MP4), evidence/ (warnings' pictures, each cited with its
SHA-256 and SM3 by the event that raised it), segments.jsonl (journal), events.jsonl (events
chained twice, by SHA-256 and by SM3), manifest.json (tracks, segments with size, SHA-256, SM3
and durations, gaps), the public keys that signed (ed25519.pub.pem, sm2.pub.pem), SHA256SUMS,
seal.json, and two signatures of the exact bytes of seal.json: seal.ed25519.sig (Ed25519) and
seal.sm2.sig (SM2, GB/T 32918: SM3 digest, the default distinguishing identifier {SM2_ID},
DER), and, with a time-stamping authority, seal.tsr (its RFC 3161 time-stamp of the SHA-256 of
seal.json). seal.json names the keys (keys: their generation and fingerprints). documents/ holds the
evaluation report and the handwritten signatures, named by their SHA-256 and cited by the
events that use them; when the session ends it is made read-only and then listed, each file
with its size, SHA-256 and SM3, in the final seal (documents in the seal.json of the part sealed
as ended). This README's digests are in the last part's seal.json (readme_sha256, readme_sm3).
relayed/<node>/<session>/ holds what a sub venue's node recorded of its room cameras while its
link to the room's node was down, handed over after the session: an archive of its own, checked
the same way.

Retention counts from the day the evaluation ended (China time), one date for every part, written
once: session_ended_at and retention_until in the seal.json of the part sealed as ended, the
session's final seal. A part sealed as interrupted has null in both and is kept with the whole
session until that date.

Checks, in each part-NNNN folder:
1. Files:  {SUMS_CHECK}
   and `sha256sum SHA256SUMS` equals sha256sums_sha256 in seal.json.
2. Signatures, each printing "Signature Verified Successfully":
    {ED25519_VERIFY}
    {SM2_VERIFY}
   or, for SM2 (prints "Verified OK"):
    {SM2_VERIFY_DGST}
   The keys' fingerprints (compare them with the operator's archive-keys.json; seal.json names
   them under keys):
    {ED25519_FINGERPRINT}
    {SM2_FINGERPRINT}
   The operator's archive-keys.json (an evidence package carries a copy) lists every
   generation of keys with the time it was valid for new seals: sealed_at falls within it.
3. Manifest: `sha256sum manifest.json` equals manifest_sha256; the SM3 (GB/T 32905) digest,
    {MANIFEST_SM3}
   equals manifest_sm3. Each segment's SM3 can be checked the same way against manifest.json.
   Every JSON that is hashed or signed (manifest.json, seal.json, each line of events.jsonl) is
   RFC 8785 canonical JSON (JCS); its "format" member gives the archive format (2 here).
4. Event chains, SHA-256 and SM3: each line of events.jsonl is a JSON object (format, seq, at,
   kind, actor, data, prev, prev_sm3, hash, sm3). hash and sm3 are the SHA-256 and the SM3 of
   the RFC 8785 canonical JSON of the object without those two (the line's bytes with
   ,"hash":"..." and ,"sm3":"..." cut out); prev and prev_sm3 are the line before's hash and
   sm3; on the first line of part-0001 both are 64 zeros, on the first line of a later part the
   SHA-256 and the SM3 of the previous part's seal.json (`sha256sum seal.json`, `{SEAL_SM3}`;
   also in that part's seal.json as previous_seal_sha256 and previous_seal_sm3). Editing,
   removing, inserting or swapping any line breaks both chains; the last line's hash and sm3
   and the number of lines equal last_event_hash, last_event_sm3 and event_count in seal.json.
   The script in step 4 above checks one part with Python's standard library (for a later
   part, give the two chains' starts after `python3 -`).
5. Merkle roots: leaves are the segment digests in manifest order, then the last event's digest
   (last_event_hash in the SHA-256 tree, last_event_sm3 in the SM3 tree); a leaf node is
   H(0x00||leaf), an inner node H(0x01||left||right), an odd node is promoted unchanged
   (RFC 6962); with SHA-256 and SM3 they equal merkle_root_sha256 and merkle_root_sm3.
6. Trusted time-stamp (RFC 3161): "timestamp" in seal.json says what happened when the part was
   sealed: requested (a token over these very bytes was asked of the TSA it names, and is
   seal.tsr), unavailable (the TSA gave none; reason says why) or none configured.
   `roomserver archive timestamp` adds a missing token later, over the same seal.json. Check
   it (prints "Verification: OK"; tsa-certificates.pem is the TSA's certificate, which an
   evidence package holds one folder above the parts):
    {TSA_VERIFY}
   and read the TSA's time with
    {TSA_SHOW}
"""
