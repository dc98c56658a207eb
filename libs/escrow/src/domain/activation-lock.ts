/** The device fields Apple's escrowKeyUnlock call takes in its query string. */
export interface UnlockDevice {
  serialNumber: string;
  productType: string;
  imei?: string;
  meid?: string;
}

/** Who asks, for Apple's audit: the organisation and the requesting person or service. */
export interface UnlockRequester {
  orgName: string;
  guid: string;
}

/** What the unlock endpoint did, as the HTTP client saw it. */
export type UnlockAnswer =
  | { kind: 'answered'; status: number; text: string }
  | { kind: 'timed-out'; afterMs: number }
  | { kind: 'unreachable'; reason: string };

export type UnlockOutcome =
  { outcome: 'cleared' } | { outcome: 'refused' | 'unavailable'; detail: string };

// Enough of an error page to say why; the rest of it is Apple's to log, not ours.
const DETAIL_CHARS = 200;
const REDACTED = '[redacted]';

/**
 * The escrowKeyUnlock request (protocol digest section 13, item 16 of section 15): the device in
 * the query string, the audit fields and the bypass code in a form body, as NanoMDM sends them.
 * The code goes in the form only, so it never lands in an access log that records URLs.
 */
export function unlockRequest(
  device: UnlockDevice,
  requester: UnlockRequester,
  code: string,
): { query: URLSearchParams; form: URLSearchParams } {
  const query = new URLSearchParams({
    serial: device.serialNumber,
    productType: device.productType,
  });
  // Cellular identifiers only when the device has them; an empty one is not an identifier.
  if (device.imei) {
    query.set('imei', device.imei);
  }
  if (device.meid) {
    query.set('meid', device.meid);
  }
  const form = new URLSearchParams({
    orgName: requester.orgName,
    guid: requester.guid,
    escrowKey: code,
  });

  return { query, form };
}

/**
 * A 2xx clears the lock; a 4xx is Apple saying no (wrong code, not this organisation's device),
 * which trying again will not change; anything else may pass, so the lock is only unavailable.
 */
export function judgeUnlockAnswer(answer: UnlockAnswer, code: string): UnlockOutcome {
  switch (answer.kind) {
    case 'timed-out':
      return {
        outcome: 'unavailable',
        detail: `unlock endpoint gave no answer within ${answer.afterMs} ms`,
      };
    case 'unreachable':
      return { outcome: 'unavailable', detail: `unlock endpoint unreachable: ${answer.reason}` };
    case 'answered':
      break;
  }
  const { status } = answer;
  if (status >= 200 && status < 300) {
    return { outcome: 'cleared' };
  }
  const excerpt = bodyExcerpt(answer.text, code);
  const detail = `HTTP ${status}${excerpt ? `: ${excerpt}` : ''}`;

  return { outcome: status >= 400 && status < 500 ? 'refused' : 'unavailable', detail };
}

/**
 * At most 200 characters of an answer, safe to log and to pass on: control characters (which
 * could forge log lines) become spaces, and the code is cut out in case the endpoint echoes it.
 */
export function bodyExcerpt(text: string, code: string): string {
  let safe = text;
  for (const form of codeForms(code)) {
    safe = safe.replace(new RegExp(escapeRegExp(form), 'gi'), REDACTED);
  }

  return safe
    .replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]+/g, ' ')
    .replace(/ {2,}/g, ' ')
    .trim()
    .slice(0, DETAIL_CHARS)
    .trimEnd();
}

/** The code as typed, without its dashes, and as a URL or form would carry it. */
function codeForms(code: string): string[] {
  const compact = code.replace(/[-\s]/g, '');
  const forms = [
    code,
    compact,
    encodeURIComponent(code),
    new URLSearchParams({ c: code }).toString().slice(2),
  ];

  // Longest first, so a longer form is not left half-replaced by a shorter one inside it.
  return [...new Set(forms.filter((form) => form.length > 0))].sort((a, b) => b.length - a.length);
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
