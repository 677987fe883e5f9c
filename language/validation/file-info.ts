/** Cached file facts for validation (filled in below). */
export class FileInfoCache {}
