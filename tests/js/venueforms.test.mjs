// A venue's details in the administration's forms: the cameras' RTSP addresses refused before
// sending, a change that sends only what changed (never the masked addresses), a token's term.
import assert from "node:assert/strict";
import { test } from "node:test";

import {
  camerasText, cameraLines, checkCameras, checkDoorDays, hidesPassword, rolesText, venueChange,
} from "../../web/lib/venueforms.js";

const CAMERA = "rtsp://admin:s3cret@192.0.2.10:554/Streaming/Channels/101";
const MASKED = "rtsp://admin:***@192.0.2.10:554/Streaming/Channels/101";
const venue = {
  name: "第一评标室", city: "沈阳", seat_count: 8, main_capable: true, sub_capable: true, cameras: [MASKED],
};
const unchanged = {
  name: "第一评标室", city: "沈阳", seat_count: "8", main_capable: true, sub_capable: true, camera_urls: MASKED,
};

test("addresses are read one a line, blank lines and spaces around them left out", () => {
  assert.deepEqual(cameraLines(`  ${CAMERA}  \n\n rtsps://192.0.2.11/live \r\n`), [CAMERA, "rtsps://192.0.2.11/live"]);
  assert.deepEqual(cameraLines(" \n "), []);
});

test("rtsp:// and rtsps:// addresses with a host are taken; none at all is fine", () => {
  assert.equal(checkCameras(""), null);
  assert.equal(checkCameras(`${CAMERA}\nrtsps://cam.example.cn/live\nrtsp://192.0.2.12`), null);
});

test("another scheme, a missing host, a space or a capital scheme is refused, naming the line", () => {
  const cases = [
    ["http://192.0.2.10/live", "第 1 个摄像机地址应以 rtsp:// 或 rtsp"],
    ["192.0.2.10:554/live", "第 1 个摄像机地址应以 rtsp://"],
    ["rtsp：//192.0.2.10/live", "第 1 个摄像机地址应以 rtsp://"],
    ["RTSP://192.0.2.10/live", "小写"],
    ["rtsp://admin:pw@/live", "缺少摄像机的 IP 地址或主机名"],
    ["rtsp://:554/live", "缺少摄像机的 IP 地址或主机名"],
    ["rtsp://192.0.2.10/my live", "不能有空格"],
    [`rtsp://192.0.2.10/${"x".repeat(490)}`, "过长"],
  ];
  for (const [url, part] of cases) {
    const problem = checkCameras(`${CAMERA}\n${url}`);
    assert.equal(problem?.field, "camera_urls", url);
    assert.ok(problem.message.includes(part.replace("第 1", "第 2")), `${url}: ${problem.message}`);
  }
});

test("at most 8 addresses, none twice", () => {
  const eight = Array.from({ length: 8 }, (_, i) => `rtsp://192.0.2.${i + 1}/live`);
  assert.equal(checkCameras(eight.join("\n")), null);
  assert.equal(checkCameras([...eight, "rtsp://192.0.2.9/live"].join("\n"))?.message, "每间评标室最多 8 个摄像机地址，现有 9 个");
  assert.equal(checkCameras(`${CAMERA}\nrtsp://192.0.2.11/live\n${CAMERA}`)?.message, "第 3 个摄像机地址与第 1 个重复");
});

test("an address whose password the server masked is not sent back as ***", () => {
  assert.ok(hidesPassword(MASKED));
  assert.ok(!hidesPassword(CAMERA));
  assert.ok(!hidesPassword("rtsp://192.0.2.10/***"), "*** in the path is no password");
  assert.match(checkCameras(`rtsp://192.0.2.11/live\n${MASKED}`)?.message ?? "", /第 2 个摄像机地址的密码显示为 \*\*\*/);
});

test("a change sends only what changed, and the cameras only when their text was edited", () => {
  assert.deepEqual(venueChange(venue, unchanged), {});
  assert.deepEqual(venueChange(venue, { ...unchanged, camera_urls: `\n ${MASKED} \n` }), {}, "blank lines are no edit");
  assert.deepEqual(
    venueChange(venue, { ...unchanged, name: " 第二评标室 ", seat_count: "6", main_capable: false }),
    { name: "第二评标室", seat_count: 6, main_capable: false },
  );
  assert.deepEqual(venueChange(venue, { ...unchanged, camera_urls: CAMERA }), { camera_urls: [CAMERA] });
  assert.deepEqual(venueChange(venue, { ...unchanged, camera_urls: "" }), { camera_urls: [] }, "every camera removed");
  assert.deepEqual(venueChange(venue, { ...unchanged, city: "大连", sub_capable: false }), { city: "大连", sub_capable: false });
});

test("a door token is valid 1 to 3650 whole days", () => {
  for (const days of ["1", "365", "3650"]) assert.equal(checkDoorDays(days), null, days);
  for (const days of ["0", "3651", "1.5", "", "一年"]) {
    assert.deepEqual(checkDoorDays(days), { field: "days", message: "有效期应为 1 至 3650 之间的整数天" }, days);
  }
});

test("what a venue may be and its cameras, in brief", () => {
  assert.equal(rolesText({ main_capable: true, sub_capable: true }), "主场 · 副场");
  assert.equal(rolesText({ main_capable: false, sub_capable: true }), "仅作副场");
  assert.equal(rolesText({ main_capable: true, sub_capable: false }), "仅作主场");
  assert.equal(rolesText({ main_capable: false, sub_capable: false }), "不作主场或副场");
  assert.equal(camerasText([]), "未配置");
  assert.equal(camerasText([MASKED, "rtsp://192.0.2.11/live"]), "2 路");
});
