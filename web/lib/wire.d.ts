// What the server sends the pages (REST answers, Socket.IO pushes and acks), as the pages read
// it: types for the checker (tsc) only, never served. The server's own models are the truth;
// a field a page does not read is not listed.

/** A seat of the roster (`roster` push, `GET …/roster`, the console's hello). */
export interface RosterSeat {
  key: string;
  venue_id: string;
  venue_name: string;
  venue_kind: "main" | "sub";
  seat_no: number;
  label: string;
  expert_id: string;
  expert_name: string;
  id_last4?: string | null;
  online: boolean;
  tracks: string[];
}

export interface Roster {
  seats: RosterSeat[];
}

/** The seat's own facts in the `join` answer. */
export interface JoinSeat {
  key?: string;
  session_id?: string;
  label?: string;
  venue_name?: string;
  venue_kind?: "main" | "sub";
  seat_no?: number | null;
  expert_name?: string;
  project_name?: string;
}

/** A ballot round of the leader's election. */
export interface Election {
  round: number;
  voted: string[];
  candidates: string[];
  tie_rule?: "revote" | "lot";
  max_rounds: number;
  lot_commitment?: string | null;
}

/** A motion the committee votes on (表决). */
export interface Motion {
  number: number;
  title: string;
  options: string[];
  voted: string[];
  closed: boolean;
  cancelled?: string | null;
  result: Record<string, number>;
  abstained?: number;
}

export interface Incident {
  number: number;
  venue: string;
  kind_label: string;
  description: string;
  handling: string[];
  result?: string | null;
}

/** The committee's workflow as the server reports it (`workflow` push, command answers). */
export interface WorkflowState {
  phase: string;
  phase_label: string;
  paused: boolean;
  pause_reason?: string | null;
  experts: number;
  seated: string[];
  checked_in: string[];
  committed: string[];
  withdrawn: string[];
  excused: string[];
  signed: string[];
  replaced_by: Record<string, string>;
  /** Experts whose signing key is registered. */
  keys: string[];
  leader?: string | null;
  election: Election;
  motions: Motion[];
  incidents: Incident[];
  report?: { sha256: string; sm3: string } | null;
}

/** What just happened in the workflow (`workflow` push). */
export interface Happened {
  kind: string;
  data: Record<string, any>;
}

/** An event of the session's record (console activity, archive timeline). */
export interface RecordEvent {
  seq: number;
  kind: string;
  at: string;
  actor?: string | null;
  part?: number;
  data?: Record<string, any>;
}

/** A participant as the record names them. */
export interface Person {
  id?: string;
  name: string;
  role?: string;
}

/** `GET /api/me`. */
export interface Me {
  participant_id: string;
  role: string;
  name: string;
  session?: { id: string; project_name: string; project_code: string; scheduled_start: string } | null;
  /** A session's participant's venue (none: every venue of the session). */
  venue_id?: string | null;
  /** The one trading centre an administrator, supervisor or ops engineer is limited to. */
  centre?: { id: string; name: string; city: string } | null;
}

/** A Socket.IO acknowledgement: `ok`, and the answer's fields or the error. */
export interface Ack {
  ok: boolean;
  error?: { code?: string; message?: string };
  [field: string]: any;
}

/** A supervision warning shown on a seat (`warning` push). */
export interface SeatWarning {
  id: string;
  text?: string;
  scope?: "room" | "seat";
  at: string;
}

/** A trading centre (`GET /api/centres`). */
export interface Centre {
  id: string;
  name: string;
  city: string;
  region_code: string;
}

/** An evaluation room (`GET /api/venues`, `GET /api/vacancy`). */
export interface Venue {
  id: string;
  centre_id: string;
  centre_name: string;
  name: string;
  city: string;
  seat_count: number;
  /** Whether it may be a session's main venue (主场) or a sub venue (副场). */
  main_capable: boolean;
  sub_capable: boolean;
  /** The room cameras' RTSP addresses, a password in them shown as ***. */
  cameras: string[];
}

/** A bearer token for a venue's door system (`POST /api/venues/{id}/door-token`), shown once. */
export interface DoorToken {
  venue_id: string;
  token: string;
  link_id: string;
  expires_at: string;
}

/** One page of a venue search. */
export interface VenuePage {
  items: Venue[];
  total: number;
  page: number;
  per_page: number;
}

/** Seats of a venue held for a slot (`GET|POST /api/bookings`); times are ISO 8601. */
export interface Booking {
  id: string;
  venue_id: string;
  starts_at: string;
  ends_at: string;
  seats: number[];
  purpose: string;
  lot_id: string | null;
  session_id: string | null;
  state: "active" | "cancelled";
  booked_by: string;
  booked_at: string;
  reason: string | null;
}

/** A venue with enough free seats for a slot (`GET /api/vacancy`). */
export interface Vacancy {
  venue: Venue;
  free_seats: number[];
}

/** A lot's evaluation session in brief. */
export interface LotSession {
  id: string;
  state: "scheduled" | "live" | "ended";
  scheduled_start: string;
  main_venue_id: string;
  sub_venue_ids: string[];
  /** The ended session a re-review (复议) re-convenes; null for a lot's own session. */
  review_of: string | null;
  /** Why a re-review was convened; null for a lot's own session. */
  review_reason: string | null;
  /** An ended session's forced end, if it was forced. */
  forced_end: ForcedEnd | null;
}

/** An administrator's forced end: why, when, by whom (a subject), in which workflow phase. */
export interface ForcedEnd {
  reason: string;
  at: string;
  by: string | null;
  phase: string;
  phase_label: string;
}

/** A lot (标段) of a project, its session once opened, and that session's re-reviews by start;
 * its bid opening once set up. */
export interface Lot {
  id: string;
  code: string;
  name: string;
  position: number;
  session: LotSession | null;
  reviews: LotSession[];
  opening: LotOpening | null;
}

/** A lot's bid opening (开标) in brief: its session, room, deadline, phase and terms. */
export interface LotOpening {
  /** The opening's session. */
  id: string;
  state: "scheduled" | "live" | "ended";
  phase: string;
  phase_label: string;
  venue_id: string;
  deadline: string;
  bidders: number;
  fields: Array<{ name: string; label: string; kind: string; unit: string }>;
  min_bids: number;
  decryption_minutes: number;
  benchmark: Array<{ name: string; label: string; candidates: string[] }>;
  public: boolean;
}

/** A bidder added to an opening (`POST /api/sessions/{id}/bidders`): its hall link, shown once,
 * valid until a link's term after the deadline. */
export interface BidderAdded {
  id: string;
  name: string;
  url: string;
  link_id: string;
  expires_at: string;
}

/** One of a trading centre's own people, by their latest link (`/api/centres/{id}/people`);
 * `url` only when just issued. */
export interface CentrePerson {
  link_id: string;
  role: "admin" | "supervisor" | "ops";
  name: string;
  subject: string;
  state: "active" | "revoked" | "expired";
  issued_at: string;
  issued_by: string;
  expires_at: string;
  revoked_at: string | null;
  reason: string | null;
  url: string | null;
}

/** A re-review opened (`POST /api/sessions/{id}/re-review`): its session and experts. */
export interface ReviewOpened {
  session: LotSession;
  review_of: string;
  experts: string[];
}

/** One checked-in expert's fee for an ended session (`GET /api/sessions/{id}/fees`, 5.5.6). */
export interface FeeRecord {
  session_id: string;
  expert_id: string;
  name: string;
  id_last4: string | null;
  venue_id: string | null;
  checked_in_at: string;
  left_at: string;
  seconds: number;
  amount_fen: number;
  /** base_fen, hourly_fen, included_hours */
  rule: Record<string, number>;
}

/** A tenderer's or bidder's archive link (`POST /api/archive/sessions/{id}/party-links`). */
export interface PartyLink {
  url: string;
  role: "tenderer" | "bidder";
  name: string;
  link_id: string;
  expires_at: string;
  /** The party's links a re-issue ended (none when issued afresh). */
  revoked: string[];
}

/** A tenderer or bidder a session's archive was opened to, and their latest link
 * (`GET /api/archive/sessions/{id}/party-links`). */
export interface PartyEntry {
  role: "tenderer" | "bidder";
  name: string;
  link: LinkState;
}

/** A project (`GET /api/projects/{id}`; the list leaves `lots` empty). */
export interface Project {
  id: string;
  centre_id: string;
  code: string;
  name: string;
  tenderer: string;
  created_at: string;
  created_by: string;
  lots: Lot[];
}

export interface ProjectPage {
  items: Project[];
  total: number;
  page: number;
  per_page: number;
}

/** A document of a project's record. */
export interface ProjectDocument {
  kind: string;
  name: string;
  content_type: string;
  size: number;
  sha256: string;
  sm3: string;
  added_at: string;
  added_by: string;
  url: string;
}

/** A person's latest link (`GET /api/sessions/{id}/people`). */
export interface LinkState {
  id: string;
  state: "active" | "revoked" | "expired";
  issued_at: string;
  expires_at: string;
  revoked_at: string | null;
  reason: string | null;
  open: number;
}

/** Somebody of a session, and their link. */
export interface SessionPerson {
  id: string;
  role: string;
  name: string;
  venue_id: string | null;
  seat_no: number | null;
  id_last4: string | null;
  replaced_by: string | null;
  link: LinkState | null;
}

/** An expert of the pool. */
export interface PoolExpert {
  id: string;
  external_id: string;
  name: string;
  id_last4: string | null;
  specialties: string[];
  city: string;
  employer: string;
  active: boolean;
}

export interface PoolPage {
  items: PoolExpert[];
  total: number;
  page: number;
  per_page: number;
}

/** A draw: its facts and commitment, and once revealed its seed, result and check. */
export interface DrawRecord {
  id: string;
  kind: "sub_venues" | "experts";
  subject: string;
  session_id: string | null;
  facts: string;
  facts_sha256: string;
  commitment: string;
  revealed: boolean;
  seed: string | null;
  result: Array<{ label: string; id: string; name: string }> | null;
  created_by: string;
  created_at: string;
  revealed_at: string | null;
  verified: boolean | null;
}

/** Which session, in a health answer. */
export interface HealthSessionRef {
  id: string;
  project_code: string;
  project_name: string;
  state: string;
  scheduled_start: string;
}

/** A session running or due, in brief (`GET /api/health/sessions`). */
export interface HealthSummary {
  session: HealthSessionRef;
  live: boolean;
  paused: boolean;
  worker?: number | null;
  seats_online: number;
  seats_expected: number;
  cameras_down: number;
  warnings: number;
  incidents_open: number;
}

export interface HealthList {
  items: HealthSummary[];
}

/** A seat's connection, without the expert's name. */
export interface SeatHealth {
  key: string;
  label: string;
  venue_id: string;
  venue_kind: string;
  online: boolean;
  connected_at?: string | null;
  media_state?: string | null;
  tracks: string[];
}

export interface CameraHealth {
  id: string;
  label: string;
  state: string;
  detail?: string | null;
  codec?: string | null;
  recorded?: boolean | null;
}

export interface DeviceWarning {
  id: string;
  kind: string;
  seat?: string | null;
  label?: string | null;
  message: string;
  started_at: string;
}

export interface IncidentHealth {
  number: number;
  venue: string;
  kind: string;
  description: string;
  handling: string[];
  result?: string | null;
}

/** One session's devices and connections (`GET /api/sessions/{id}/health`). */
export interface SessionHealth {
  session: HealthSessionRef;
  live: boolean;
  paused: boolean;
  worker?: { index: number; grid_fps?: number | null; grid_frames_skipped?: number | null } | null;
  venues: { id: string; name: string; city: string; kind: string }[];
  seats: SeatHealth[];
  cameras: CameraHealth[];
  warnings: DeviceWarning[];
  incidents: IncidentHealth[];
}

/** A media worker process (`GET /api/workers`). */
export interface MediaWorker {
  index: number;
  pid: number | null;
  alive: boolean;
  generation: number;
  rooms: string[];
  seats: number;
  draining: boolean;
}

/** An opening field a lot's bids carry and the read-out lists (`fields` of the opening). */
export interface OpeningField {
  name: string;
  label: string;
  kind: "money" | "decimal" | "integer" | "text";
  unit: string;
}

/** A bidder as the opening's view shows it to the viewer (more to itself and to insiders). */
export interface OpeningBidder {
  bidder: string;
  name: string;
  status: string;
  status_label: string;
  submitted?: boolean;
  invalid?: string | null;
  signed_in_at?: string | null;
  representative?: string | null;
  id_last4?: string | null;
  submitted_at?: string | null;
  blob_sha256?: string | null;
  released_at?: string | null;
  refused?: string | null;
  failure?: string | null;
  decision?: string | null;
  handling?: string | null;
  confirmed: boolean;
}

/** One cell of a read-out row: the field, its value in figures and, for money, in capitals. */
export interface ReadoutCell extends OpeningField {
  value: string | number;
  figures: string;
  capitals?: string;
}

export interface ReadoutRow {
  bidder: string;
  name: string;
  decryption: string;
  fields: ReadoutCell[];
}

export interface OpeningObjection {
  number: number;
  bidder: string;
  name: string;
  text: string;
  attachment: { sha256: string; type: string } | null;
  answer: string | null;
}

export interface OpeningIncident {
  number: number;
  kind: string;
  kind_label: string;
  description: string;
  handling: string[];
  result: string | null;
}

/** The opening as the viewer may see it (`GET …/opening`, the hall's `opening` push). */
export interface OpeningView {
  session?: { id: string; project_code: string; project_name: string; state: string; venue_id: string };
  me?: { id: string; role: string };
  server_time: string;
  lot_id: string;
  phase: string;
  phase_label: string;
  paused: boolean;
  pause_reason: string | null;
  /** Whether the public may watch the broadcast (the host decides). */
  public: boolean;
  deadline: string;
  decryption_until: string | null;
  min_bids: number;
  fields: OpeningField[];
  bidders: OpeningBidder[];
  submitted_count: number | null;
  valid: string[];
  benchmark: {
    parameters: Array<{ name: string; label: string; candidates: string[] }>;
    commitment: string | null;
    seed: string | null;
    values: Record<string, string> | null;
  } | null;
  readout: ReadoutRow[];
  objections: OpeningObjection[];
  incidents: OpeningIncident[];
  record: { sha256: string | null; sm3: string | null; signed_by: Array<{ signer: string; role: string }> };
  keys: string[];
  muted: string[];
  mute_reasons: Record<string, string>;
  you_are_muted: boolean;
  failed: string | null;
  forced_end: string | null;
}

/** What happened at the opening (the hall's `happened` push). */
export interface OpeningHappened {
  kind: string;
  data: Record<string, any>;
  /** When it happened (in the ``history`` a page gets at connect). */
  at?: string;
}
