/**
 * Byte-level building blocks shared by the HTTP/1.1 parsers and serializer: named bytes, the
 * byte-class tables the hot loops index once per byte, and allocation-free comparisons and
 * decoding over a caller's buffer.
 *
 * @module
 */

/** Horizontal tab, allowed as whitespace in fields (RFC 9110 5.6.3). */
export const HTAB = 0x09;
/** Line feed: ends every line, always after a CR (a bare LF is refused). */
export const LF = 0x0a;
/** Carriage return. */
export const CR = 0x0d;
/** Space. */
export const SP = 0x20;
/** Separates list elements (RFC 9110 5.6.1). */
export const COMMA = 0x2c;
/** Separates the major from the minor version digit. */
export const DOT = 0x2e;
/** Separates a field name from its value. */
export const COLON = 0x3a;
/** Starts a chunk extension (RFC 9112 7.1.1). */
export const SEMICOLON = 0x3b;
/** The one control character above the printable range. */
export const DEL = 0x7f;
/** `0`: digits are `DIGIT_0 + n`. */
export const DIGIT_0 = 0x30;
/** `9`. */
export const DIGIT_9 = 0x39;
/** Number base of the decimal fields (Content-Length, status code). */
export const DECIMAL = 10;
/** Number base of chunk sizes. */
export const HEXADECIMAL = 16;

/** Distance from an ASCII uppercase letter to its lowercase form. */
const CASE_OFFSET = 0x20;
const UPPER_A = 0x41;
const UPPER_F = 0x46;
const UPPER_Z = 0x5a;
const LOWER_A = 0x61;
const LOWER_F = 0x66;
const LOWER_Z = 0x7a;
/** Value of hex digit `a`/`A`. */
const HEX_TEN = 10;
const BYTE_VALUES = 256;

/** The empty body, shared so that "no body" allocates nothing. */
export const EMPTY: Uint8Array<ArrayBuffer> = new Uint8Array(0);
/** One encoder for every string the package turns into bytes. */
export const ENCODER: TextEncoder = new TextEncoder();

/** The bytes of an ASCII string. */
export function ascii(s: string): Uint8Array<ArrayBuffer> {
  return ENCODER.encode(s);
}

// Byte classes, one lookup per byte on the hot path.
/** RFC 9110 5.6.2 token characters. */
export const TCHAR: Uint8Array = new Uint8Array(BYTE_VALUES);
/** Field-value bytes: HTAB, SP, VCHAR, obs-text. */
export const FIELD_VCHAR: Uint8Array = new Uint8Array(BYTE_VALUES);
/** Request-target bytes: VCHAR only. */
export const TARGET_CHAR: Uint8Array = new Uint8Array(BYTE_VALUES);
/** ASCII lowercase, other bytes unchanged. */
export const LOWER: Uint8Array = new Uint8Array(BYTE_VALUES);
/** The value of a hex digit, -1 for any other byte. */
export const HEX: Int8Array = new Int8Array(BYTE_VALUES).fill(-1);
{
  const tokenSymbols = "!#$%&'*+-.^_`|~";
  for (let b = 0; b < BYTE_VALUES; b++) {
    const upper = b >= UPPER_A && b <= UPPER_Z;
    const lower = b >= LOWER_A && b <= LOWER_Z;
    const digit = b >= DIGIT_0 && b <= DIGIT_9;
    LOWER[b] = upper ? b + CASE_OFFSET : b;
    FIELD_VCHAR[b] = b === HTAB || (b >= SP && b !== DEL) ? 1 : 0;
    TARGET_CHAR[b] = b > SP && b < DEL ? 1 : 0;
    TCHAR[b] = upper || lower || digit || tokenSymbols.includes(String.fromCharCode(b)) ? 1 : 0;
    if (digit) HEX[b] = b - DIGIT_0;
    else if (b >= LOWER_A && b <= LOWER_F) HEX[b] = b - LOWER_A + HEX_TEN;
    else if (b >= UPPER_A && b <= UPPER_F) HEX[b] = b - UPPER_A + HEX_TEN;
  }
}

/** Whether `buf[at..]` equals `lower` ignoring ASCII case (`lower` is already lowercase). */
export function equalsLower(buf: Uint8Array, at: number, lower: Uint8Array): boolean {
  for (let i = 0; i < lower.length; i++) {
    if (LOWER[buf[at + i]!] !== lower[i]) return false;
  }
  return true;
}

/** Whether `buf[at..]` starts with the ASCII string `s`, case included. */
export function equalsExact(buf: Uint8Array, at: number, s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    if (buf[at + i] !== s.charCodeAt(i)) return false;
  }
  return true;
}

const LATIN1_CHUNK = 4096;
/** Scratch code units; measured faster than `+=` per byte or `apply` on a subarray. */
const codeUnits: number[] = [];

function latin1Chunk(buf: Uint8Array, from: number, length: number): string {
  codeUnits.length = length;
  for (let i = 0; i < length; i++) codeUnits[i] = buf[from + i]!;
  return String.fromCharCode.apply(null, codeUnits);
}

/**
 * Decodes bytes one to one as code points (ISO-8859-1). Lossless for any byte, and identical to
 * ASCII for the tokens and targets the parsers accept.
 */
export function latin1(buf: Uint8Array, from: number, to: number): string {
  const length = to - from;
  if (length <= 0) return "";
  if (length <= LATIN1_CHUNK) return latin1Chunk(buf, from, length);
  let s = "";
  for (let i = from; i < to; i += LATIN1_CHUNK) {
    s += latin1Chunk(buf, i, Math.min(LATIN1_CHUNK, to - i));
  }
  return s;
}
