// @ts-check
// The expert pool (专家库) as the expert management system hands it over, pasted or uploaded:
// a CSV table with a header row (Chinese or English column names, comma or tab separated) or
// JSON (a list of experts, or {"experts": [...]}). Each expert becomes what
// `POST /api/experts/pool` takes; a row the server would refuse is named by its line. Pure.

/**
 * An expert as `POST /api/experts/pool` takes them.
 * @typedef {{ external_id: string, name: string, id_number?: string, specialties: string[], city: string, employer: string, active: boolean }} PoolEntry
 */

/** The most experts one import takes (the server's limit). */
export const MAX_POOL_IMPORT = 5000;
const CODE = /^[A-Za-z0-9_.-]{1,100}$/;

/** Column names a table may use for each field, lower case. */
const COLUMNS = /** @type {const} */ ({
  external_id: ["external_id", "编号", "专家编号", "id"],
  name: ["name", "姓名", "专家姓名"],
  id_number: ["id_number", "身份证号", "身份证号码", "证件号码"],
  specialties: ["specialties", "specialty", "专业", "评标专业"],
  city: ["city", "城市", "所在城市", "所在地"],
  employer: ["employer", "工作单位", "单位"],
  active: ["active", "状态", "是否在库"],
});

/** The words that say an expert is not to be drawn now. */
const INACTIVE = new Set(["false", "0", "no", "否", "停用", "暂停", "不可抽取"]);

/**
 * The cells of CSV text, line by line (quoted cells may hold commas, quotes and new lines);
 * each row with the line it starts on.
 * @param {string} source
 * @returns {Array<{ line: number, cells: string[] }>}
 */
export function csvRows(source) {
  const separator = source.split("\n", 1)[0].includes("\t") ? "\t" : ",";
  /** @type {Array<{ line: number, cells: string[] }>} */
  const rows = [];
  let cells = /** @type {string[]} */ ([]);
  let cell = "";
  let quoted = false;
  let line = 1;
  let start = 1;
  for (let i = 0; i < source.length; i += 1) {
    const c = source[i];
    if (quoted) {
      if (c === '"' && source[i + 1] === '"') {
        cell += '"';
        i += 1;
      } else if (c === '"') quoted = false;
      else {
        if (c === "\n") line += 1;
        cell += c;
      }
    } else if (c === '"' && cell === "") quoted = true;
    else if (c === separator) {
      cells.push(cell);
      cell = "";
    } else if (c === "\n" || c === "\r") {
      if (c === "\r" && source[i + 1] === "\n") i += 1;
      cells.push(cell);
      if (cells.some((x) => x.trim())) rows.push({ line: start, cells });
      cells = [];
      cell = "";
      line += 1;
      start = line;
    } else cell += c;
  }
  cells.push(cell);
  if (cells.some((x) => x.trim())) rows.push({ line: start, cells });
  return rows;
}

/**
 * Specialties from a cell or a list: split at 、，,；;|/ and spaces, without repeats.
 * @param {unknown} value
 */
function specialtiesOf(value) {
  const parts = Array.isArray(value) ? value.map(String) : String(value ?? "").split(/[、，,；;|/\s]+/);
  return [...new Set(parts.map((p) => p.trim()).filter(Boolean))];
}

/**
 * An expert from a record of any field names; what is wrong with it, or null.
 * @param {Record<string, unknown>} record
 * @returns {{ entry: PoolEntry, problem: string | null }}
 */
function entryOf(record) {
  /** @param {keyof typeof COLUMNS} field */
  const get = (field) => {
    const key = Object.keys(record).find((k) => /** @type {readonly string[]} */ (COLUMNS[field]).includes(k.trim().toLowerCase()));
    return key === undefined ? undefined : record[key];
  };
  const str = (/** @type {unknown} */ v) => (v === undefined || v === null ? "" : String(v).trim());
  const active = get("active");
  /** @type {PoolEntry} */
  const entry = {
    external_id: str(get("external_id")),
    name: str(get("name")),
    specialties: specialtiesOf(get("specialties")),
    city: str(get("city")),
    employer: str(get("employer")),
    active: typeof active === "boolean" ? active : !INACTIVE.has(str(active).toLowerCase()),
  };
  const idNumber = str(get("id_number"));
  if (idNumber) entry.id_number = idNumber;
  let problem = null;
  if (!entry.external_id) problem = "缺少专家编号";
  else if (!CODE.test(entry.external_id)) problem = `专家编号“${entry.external_id}”只能由字母、数字和 . _ - 组成`;
  else if (!entry.name) problem = "缺少姓名";
  else if (entry.name.length > 64) problem = "姓名不能超过 64 个字";
  else if (entry.specialties.length === 0) problem = "缺少专业";
  else if (entry.specialties.length > 20 || entry.specialties.some((s) => s.length > 50)) problem = "专业最多 20 个，每个不超过 50 个字";
  else if (!entry.city) problem = "缺少所在城市";
  else if (entry.employer.length > 200) problem = "工作单位不能超过 200 个字";
  return { entry, problem };
}

/**
 * The records of the text, each with where it is ("第 3 行" of a table, "第 2 项" of JSON).
 * @param {string} source
 * @returns {Array<{ where: string, record: Record<string, unknown> }>}
 */
function recordsOf(source) {
  const trimmed = source.trim();
  if (trimmed.startsWith("[") || trimmed.startsWith("{")) {
    let data;
    try {
      data = JSON.parse(trimmed);
    } catch {
      throw new Error("JSON 格式有误，无法读取");
    }
    const list = Array.isArray(data) ? data : data?.experts;
    if (!Array.isArray(list)) throw new Error("JSON 应为专家列表，或含 experts 列表的对象");
    return list.map((record, i) => {
      if (!record || typeof record !== "object" || Array.isArray(record)) throw new Error(`第 ${i + 1} 项不是一名专家的信息`);
      return { where: `第 ${i + 1} 项`, record };
    });
  }
  const [header, ...rows] = csvRows(source.replace(/^\uFEFF/, ""));
  if (!header) return [];
  const names = header.cells.map((c) => c.trim());
  for (const field of /** @type {const} */ (["external_id", "name", "specialties", "city"])) {
    if (!names.some((n) => /** @type {readonly string[]} */ (COLUMNS[field]).includes(n.toLowerCase()))) {
      throw new Error(`表头缺少“${COLUMNS[field][1]}”列（第一行应为列名：编号、姓名、专业、城市，可选身份证号、工作单位、状态）`);
    }
  }
  return rows.map(({ line, cells }) => ({
    where: `第 ${line} 行`,
    record: Object.fromEntries(names.map((n, i) => [n, cells[i] ?? ""])),
  }));
}

/**
 * The experts of a pasted or uploaded text, or what is wrong with it: the first problems by
 * line (a table's) or item (JSON's), at most `most`.
 * @param {string} source
 * @param {number} [most]
 * @returns {{ experts: PoolEntry[], problems: string[] }}
 */
export function parsePool(source, most = 5) {
  if (!source.trim()) return { experts: [], problems: ["请粘贴或选择专家名单"] };
  /** @type {Array<{ where: string, record: Record<string, unknown> }>} */
  let records;
  try {
    records = recordsOf(source);
  } catch (err) {
    return { experts: [], problems: [err instanceof Error ? err.message : String(err)] };
  }
  if (records.length === 0) return { experts: [], problems: ["名单中没有专家"] };
  if (records.length > MAX_POOL_IMPORT) return { experts: [], problems: [`一次最多导入 ${MAX_POOL_IMPORT} 名专家`] };
  const problems = [];
  /** @type {Map<string, string>} */
  const seen = new Map();
  const experts = [];
  for (const { where, record } of records) {
    const { entry, problem } = entryOf(record);
    const before = seen.get(entry.external_id);
    if (problem) problems.push(`${where}：${problem}`);
    else if (before) problems.push(`${where}：专家编号 ${entry.external_id} 与${before}重复`);
    seen.set(entry.external_id, before || where);
    experts.push(entry);
  }
  return { experts: problems.length ? [] : experts, problems: problems.slice(0, most) };
}
