"""What the people of a bid opening do in their pages, as a person does it: a bidder's
representative in the hall (sign-in with the camera, the sealed bid and its key file, the key
released, a reported failure, confirmation and objection), the tenderer answering, and the host
and witness at the opening console."""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path
from typing import Any

from PIL import Image

from tests.e2e.opening_support import TIMEOUT_MS, OpeningPage


def visible(selector: str) -> str:
    """A predicate: the element is shown (neither it nor an ancestor hidden)."""
    return (
        f"() => {{ const e = document.querySelector({selector!r}); "
        f"return !!e && !e.hidden && e.offsetParent !== null; }}"
    )


def contains(selector: str, text: str) -> str:
    """A predicate: the element's text contains `text`."""
    return (
        f"() => {{ const e = document.querySelector({selector!r}); "
        f"return !!e && e.textContent.includes({text!r}); }}"
    )


# ---- a bidder in the hall ---------------------------------------------------------------------


def sign_in_with_the_camera(hall: OpeningPage, representative: str, id_number: str) -> None:
    """The representative's name and ID number, a picture from the camera looked at, sent."""
    page = hall.page
    page.fill("#sign-in-form [name=representative]", representative)
    page.fill("#sign-in-form [name=id_number]", id_number)
    page.click("#camera-start")
    hall.wait("() => document.querySelector('video[data-role=self]').videoWidth > 0")
    page.click("#camera-shoot")
    hall.wait(
        "() => { const i = document.querySelector('#face-picture');"
        " return !i.hidden && i.complete && i.naturalWidth > 0; }"
    )
    # The picture shown before it is sent is the camera's; what is sent is that picture, a JPEG.
    shown = page.evaluate(
        "() => { const i = document.querySelector('#face-picture');"
        " return [i.naturalWidth, i.naturalHeight]; }"
    )
    assert shown == [640, 480], shown
    with page.expect_request(lambda r: r.url.endswith("/opening/sign-in")) as sent:
        page.click("#sign-in-submit")
    picture = Image.open(io.BytesIO(base64.b64decode(sent.value.post_data_json["picture"])))
    assert (picture.format, picture.size) == ("JPEG", (640, 480))
    hall.wait(visible("#sign-in-done"))
    assert representative in hall.text("#sign-in-done")


def seal_and_submit(
    hall: OpeningPage, price: str, days: int, bid_file: Path, keys: Path
) -> dict[str, Any]:
    """The opening fields and the file, sealed in the page and submitted; the key file that the
    page offers at once, saved and read."""
    page = hall.page
    page.fill("#bid-fields [data-field=price]", price)
    page.fill("#bid-fields [data-field=duration_days]", str(days))
    page.set_input_files("#bid-file", str(bid_file))
    before = page.evaluate("document.querySelector('#bid-done').textContent")
    with page.expect_download(timeout=TIMEOUT_MS) as info:
        page.click("#bid-submit")
    download = info.value
    target = keys / f"{hall.who}-{download.suggested_filename}"
    download.save_as(target)
    hall.wait(
        f"() => {{ const e = document.querySelector('#bid-done'); return !e.hidden"
        f" && e.textContent.includes('递交加密的投标文件') && e.textContent !== {before!r}; }}"
    )
    hall.wait(visible("#key-box"))
    return dict(json.loads(target.read_text(encoding="utf-8")))


def release_from_the_key_file(hall: OpeningPage, key_file: Path) -> None:
    """The key file chosen in the page: its key is released."""
    hall.page.set_input_files("#key-file", str(key_file))


def report_a_failure(hall: OpeningPage, reason: str) -> None:
    """The bidder cannot decrypt and says why."""
    page = hall.page
    page.click("#failure-box summary")
    page.fill("#failure-form [name=reason]", reason)
    page.click("#failure-form button[type=submit]")
    hall.wait(contains("#decrypt-done", "已报告解密失败"))


def confirm_my_row(hall: OpeningPage) -> None:
    """The bidder confirms its row of the read-out."""
    hall.page.click("#confirm-row")


def raise_an_objection(hall: OpeningPage, text: str, attachment: Path) -> None:
    """An objection with a picture attached."""
    page = hall.page
    page.fill("#objection-form [name=text]", text)
    page.set_input_files("#objection-file", str(attachment))
    page.click("#objection-submit")
    hall.wait(contains("#objections", text[:12]))


def answer_the_objection(hall: OpeningPage, number: int, answer: str) -> None:
    """The tenderer answers an objection in its hall."""
    page = hall.page
    item = f"#objections li[data-key='{number}']"
    page.fill(f"{item} textarea[name=answer]", answer)
    page.click(f"{item} .answer-form button[type=submit]")
    hall.wait(contains(item, "已答复"))


# ---- host and witness at the console ----------------------------------------------------------


def console_command(console: OpeningPage, selector: str) -> None:
    """Click a control of the console."""
    console.page.click(selector)


def open_decryption(console: OpeningPage, minutes: int) -> None:
    console.page.fill("#decryption-form [name=minutes]", str(minutes))
    console.page.click("#open-decryption")
    console.wait_phase("decryption")


def extend_decryption(console: OpeningPage, minutes: int, reason: str) -> None:
    console.page.fill("#extend-form [name=minutes]", str(minutes))
    console.page.fill("#extend-form [name=reason]", reason)
    console.page.click("#extend-decryption")
    console.wait(contains("#log", "解密时限延长"))


def handle_the_failure(
    console: OpeningPage, bidder: str, handling: str, price: str, days: int
) -> None:
    """The host accepts a reported failure with the backup copy's fields."""
    page = console.page
    page.click(f"button[data-handle='{bidder}']")
    page.wait_for_selector("#failure-dialog[open]", timeout=TIMEOUT_MS)
    page.check("#failure-form [name=decision][value=accepted]")
    page.fill("#failure-form [name=handling]", handling)
    page.fill("#backup-inputs [data-field=price]", price)
    page.fill("#backup-inputs [data-field=duration_days]", str(days))
    page.click("#failure-confirm")
    console.wait("() => !document.querySelector('#failure-dialog').open")
    console.wait(
        f"() => document.querySelector(\"tr[data-bidder='{bidder}']\")"
        f".dataset.status === 'accepted'"
    )


def mute(console: OpeningPage, bidder: str, reason: str) -> None:
    page = console.page
    page.click(f"button[data-mute='{bidder}']")
    page.wait_for_selector("#mute-dialog[open]", timeout=TIMEOUT_MS)
    page.fill("#mute-form [name=reason]", reason)
    page.click("#mute-confirm")
    console.wait(contains(f"tr[data-bidder='{bidder}']", "已禁言"))


def unmute(console: OpeningPage, bidder: str) -> None:
    console.page.click(f"button[data-mute='{bidder}']")
    console.wait(
        f"() => !document.querySelector(\"tr[data-bidder='{bidder}']\")"
        ".textContent.includes('已禁言')"
    )


def pause(console: OpeningPage, reason: str) -> None:
    console.page.fill("#pause-form [name=reason]", reason)
    console.page.click("#pause-btn")
    console.wait(visible("#paused"))


def resume(console: OpeningPage) -> None:
    console.page.click("#resume-btn")
    console.wait("() => document.querySelector('#paused').hidden")


def open_incident(console: OpeningPage, kind: str, description: str) -> None:
    page = console.page
    page.select_option("#incident-form [name=kind]", kind)
    page.fill("#incident-form [name=description]", description)
    page.click("#incident-form button[type=submit]")
    console.wait(contains("#incidents", description))


def handle_incident(console: OpeningPage, number: int, handling: str) -> None:
    page = console.page
    page.fill(f"#incidents li[data-key='{number}'] .incident-actions input", handling)
    page.click(f"[data-handle-incident='{number}']")
    console.wait(contains(f"#incidents li[data-key='{number}']", handling))


def close_incident(console: OpeningPage, number: int, result: str) -> None:
    page = console.page
    page.fill(f"#incidents li[data-key='{number}'] .incident-actions input", result)
    page.click(f"[data-close-incident='{number}']")
    console.wait(contains(f"#incidents li[data-key='{number}']", "处理完毕"))


def send_text(console: OpeningPage, form: str, text: str) -> None:
    """A notice (host) or a reminder to the host (witness)."""
    console.page.fill(f"{form} [name=text]", text)
    console.page.click(f"{form} button[type=submit]")
    console.wait(contains("#log", text))


def sign_the_record(console: OpeningPage) -> None:
    """Read the sheet (checked in the page), register the key made in this browser, sign."""
    page = console.page
    console.wait(contains("#record-check", "一致"))
    console.wait("() => !!document.querySelector('#record-frame').dataset.loaded")
    console.wait("() => !document.querySelector('#sign-record').disabled")
    page.click("#sign-record")
    console.wait(contains("#sign-record", "已签署"))
