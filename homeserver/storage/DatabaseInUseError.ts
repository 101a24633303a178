/** Another process holds the homeserver's SQLite file (one process per database: it keeps the stream counter). */
export class DatabaseInUseError extends Error {
  constructor(readonly path: string) {
    super(
      `homeserver database ${path} is in use by another process (a patchbay start or patchbay homeserver with the same data_dir). ` +
        'Fix: stop that process first, or give this one its own data_dir or homeserver.database',
    );
    this.name = 'DatabaseInUseError';
  }
}
