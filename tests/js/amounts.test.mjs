// Money as the bid form shows it while it is typed: the server's figures and capitals.
import assert from "node:assert/strict";
import { test } from "node:test";

import { amountCapitals, amountFigures, MAX_FEN, parseAmount } from "../../web/lib/amounts.js";

// Some of tests/unit/roomserver/test_amounts.py's cases (the bank rules' own examples among
// them); tests/unit/roomserver/test_opening_browser.py compares every case and many more.
const CASES = [
  ["0", "¥0.00", "零元整"],
  ["0.05", "¥0.05", "伍分"],
  ["0.5", "¥0.50", "伍角"],
  ["10", "¥10.00", "壹拾元整"],
  ["10.01", "¥10.01", "壹拾元零壹分"],
  ["325.04", "¥325.04", "叁佰贰拾伍元零肆分"],
  ["1409.50", "¥1,409.50", "壹仟肆佰零玖元伍角"],
  ["1680.32", "¥1,680.32", "壹仟陆佰捌拾元叁角贰分"],
  ["6007.14", "¥6,007.14", "陆仟零柒元壹角肆分"],
  ["16409.02", "¥16,409.02", "壹万陆仟肆佰零玖元零贰分"],
  ["100100", "¥100,100.00", "壹拾万零壹佰元整"],
  ["107000.53", "¥107,000.53", "壹拾万柒仟元伍角叁分"],
  ["10001000", "¥10,001,000.00", "壹仟万壹仟元整"],
  ["100010001.01", "¥100,010,001.01", "壹亿零壹万零壹元零壹分"],
  ["999999999999.99", "¥999,999,999,999.99", "玖仟玖佰玖拾玖亿玖仟玖佰玖拾玖万玖仟玖佰玖拾玖元玖角玖分"],
];

test("an amount is written in figures and in capitals by the rules the server follows", () => {
  for (const [text, figures, capitals] of CASES) {
    const fen = parseAmount(text);
    assert.equal(amountFigures(fen), figures, text);
    assert.equal(amountCapitals(fen), capitals, text);
  }
  assert.equal(parseAmount("999999999999.99"), MAX_FEN);
});

test("anything but a plain decimal figure of yuan is refused, saying why in Chinese", () => {
  for (const text of ["1e3", "-1", "+1", "1,000", "1.", ".5", "１２３", "¥100", "0x10", "1 000", "12\n3", "NaN"]) {
    assert.throws(() => parseAmount(text), /金额格式不正确/, text);
  }
  assert.throws(() => parseAmount("1.234"), { message: "金额最多两位小数（到分）" });
  assert.throws(() => parseAmount("01"), { message: "金额格式不正确：整数部分不能以 0 开头" });
  assert.throws(() => parseAmount("1000000000000"), { message: "金额不能超过 ¥999,999,999,999.99" });
  assert.throws(() => parseAmount("  "), { message: "金额不能为空" });
  assert.throws(() => parseAmount(12), /金额必须以文字形式给出/);
});
