// @ts-check
// Sums of money such as a bid price (投标报价), in yuan to the fen, as the server reads and writes
// them (roomserver/amounts.py, whose docstring has the rules): read from a decimal string of
// yuan, shown in figures (¥1,234,567.89) and in Chinese capitals (大写金额). The bid form shows
// a price in capitals as it is typed, before it is sealed; the read-out shows the server's own.
// Pure: no DOM.

export const MAX_FEN = 10 ** 14 - 1; // 999,999,999,999.99 yuan
const MAX_YUAN_DIGITS = 12;
const DIGITS = "零壹贰叁肆伍陆柒捌玖";
const IN_GROUP = ["仟", "佰", "拾", ""];
const GROUP_UNITS = ["", "万", "亿"];

/** @param {number} fen */
function figuresOf(fen) {
  const yuan = Math.floor(fen / 100);
  const rest = fen % 100;
  return `¥${String(yuan).replace(/\B(?=(\d{3})+(?!\d))/g, ",")}.${String(rest).padStart(2, "0")}`;
}

/**
 * An amount in fen from a decimal string of yuan ("1234567.89"); throws with the reason in
 * Chinese, as the server would refuse it.
 * @param {unknown} text
 * @returns {number}
 */
export function parseAmount(text) {
  if (typeof text !== "string") throw new Error('金额必须以文字形式给出，如 "1234567.89"');
  const trimmed = text.trim();
  if (!trimmed) throw new Error("金额不能为空");
  const shape = /^([0-9]+)(?:\.([0-9]+))?$/.exec(trimmed);
  if (!shape) throw new Error("金额格式不正确：只能是不带正负号和千位分隔符的数字，最多两位小数，如 1234567.89");
  const whole = shape[1];
  const decimals = shape[2] || "";
  if (whole.length > 1 && whole.startsWith("0")) throw new Error("金额格式不正确：整数部分不能以 0 开头");
  if (decimals.length > 2) throw new Error("金额最多两位小数（到分）");
  if (whole.length > MAX_YUAN_DIGITS) throw new Error(`金额不能超过 ${figuresOf(MAX_FEN)}`);
  return Number(whole) * 100 + Number(decimals.padEnd(2, "0"));
}

/**
 * In figures with thousands separators: "¥1,234,567.89".
 * @param {number} fen
 */
export function amountFigures(fen) {
  return figuresOf(fen);
}

/**
 * One group of four digits (1 to 9999): leading and trailing zeros unwritten, a run of zeros
 * between digits one 零.
 * @param {number} value
 */
function group(value) {
  let text = "";
  let zero = false;
  const digits = String(value).padStart(4, "0");
  for (let i = 0; i < 4; i += 1) {
    const digit = Number(digits[i]);
    if (digit === 0) {
      zero = text.length > 0;
      continue;
    }
    if (zero) {
      text += "零";
      zero = false;
    }
    text += DIGITS[digit] + IN_GROUP[i];
  }
  return text;
}

/**
 * Whole yuan (at least 1) in capitals, without 元.
 * @param {number} yuan
 */
function yuanCapitals(yuan) {
  /** @type {number[]} */
  const groups = [];
  let left = yuan;
  while (left) {
    groups.push(left % 10000);
    left = Math.floor(left / 10000);
  }
  let text = "";
  let zero = false;
  for (let place = groups.length - 1; place >= 0; place -= 1) {
    const value = groups[place];
    if (value === 0) {
      zero = text.length > 0;
      continue;
    }
    if (text && (zero || value < 1000)) text += "零";
    text += group(value) + GROUP_UNITS[place];
    zero = false;
  }
  return text;
}

/**
 * In Chinese capitals (大写金额), by the rules of roomserver/amounts.py.
 * @param {number} fen
 */
export function amountCapitals(fen) {
  if (fen === 0) return "零元整";
  const yuan = Math.floor(fen / 100);
  const jiao = Math.floor((fen % 100) / 10);
  const cents = fen % 10;
  let text = yuan ? `${yuanCapitals(yuan)}元` : "";
  if (!jiao && !cents) return `${text}整`;
  if (jiao) text += `${DIGITS[jiao]}角`;
  else if (yuan) text += "零";
  if (cents) text += `${DIGITS[cents]}分`;
  return text;
}
