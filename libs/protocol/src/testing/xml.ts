/** Wraps plist body markup in the XML declaration, Apple DOCTYPE and <plist> element. */
export function xmlPlist(body: string): Buffer {
  return Buffer.from(
    '<?xml version="1.0" encoding="UTF-8"?>\n' +
      '<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" ' +
      '"http://www.apple.com/DTDs/PropertyList-1.0.dtd">\n' +
      `<plist version="1.0">\n${body}\n</plist>\n`,
  );
}

/** A dictionary body from key/value markup pairs. */
export function dictXml(entries: Record<string, string>): string {
  return `<dict>${Object.entries(entries)
    .map(([key, value]) => `<key>${key}</key>${value}`)
    .join('')}</dict>`;
}
