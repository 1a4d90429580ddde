/**
 * Text from elsewhere (a bot's name, a job's error, anything an API answers) made safe to print
 * on a terminal: a control character would be obeyed by the terminal, not shown. ESC starts
 * escape sequences (move the cursor, clear the screen, OSC 0 sets the window's title, OSC 8 a
 * link, OSC 52 writes the clipboard), CR overwrites the line, and the C1 controls (U+0080 to
 * U+009F, CSI among them) are escapes of their own to some terminals. Each becomes a visible
 * escape, `\x1b`, `\r`, `\x9b`, so a name shows what it holds. Tab and newline stay unless
 * `oneLine` (a table's cell, a log line's field).
 */

/** C0 controls, DEL and C1 controls */
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/g;
/** the same, but for tab and newline */
const CONTROL_BUT_LAYOUT = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g;
/** what colours text and nothing else: Select Graphic Rendition, as chalk writes it */
const SGR = /\u001b\[[0-9;]*m/g;

const NAMED: Record<string, string> = { '\r': '\\r', '\n': '\\n', '\t': '\\t' };
const escapeOne = (ch: string) => NAMED[ch] ?? `\\x${ch.charCodeAt(0).toString(16).padStart(2, '0')}`;

export function printable(text: string, o: { oneLine?: boolean } = {}): string {
  return text.replace(o.oneLine ? CONTROL : CONTROL_BUT_LAYOUT, escapeOne);
}

/**
 * printable(), but for the colours this program put in (`keepColours`: chalk's SGR sequences are
 * kept, every other control character escaped). A colour sequence that came with the data is kept
 * too: it can colour text, never move the cursor or write anywhere.
 */
export function printableStyled(text: string, o: { oneLine?: boolean; keepColours: boolean }): string {
  if (!o.keepColours) return printable(text, o);
  let out = '';
  let last = 0;
  for (const m of text.matchAll(SGR)) {
    out += printable(text.slice(last, m.index), o) + m[0];
    last = m.index! + m[0].length;
  }
  return out + printable(text.slice(last), o);
}

/** JSON.stringify escapes C0 controls but not DEL or C1: these as \u escapes too (still JSON) */
export const jsonPrintable = (json: string): string =>
  json.replace(/[\u007f-\u009f]/g, (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`);
