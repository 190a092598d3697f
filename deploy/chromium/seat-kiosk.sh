#!/bin/sh
# A venue's seat computer: Chromium full screen on the seat's personal link, with the managed
# policy /etc/chromium/policies/managed/roomserver-seat.json (camera, microphone, screen
# capture and autoplay granted to the server's origin). The screen to share is chosen without
# a click by its title in the browser's language ("整个屏幕" in Chinese, "Entire screen" in
# English). Usage: seat-kiosk.sh 'https://pb.example.cn/seat?code=…'
set -eu
exec chromium \
    --kiosk \
    --no-first-run \
    --disable-translate \
    --disable-features=Translate \
    --auto-select-desktop-capture-source="整个屏幕" \
    --lang=zh-CN \
    "$1"
