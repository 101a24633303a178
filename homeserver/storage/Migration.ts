// One numbered step of a schema. Never edit a released step: add a new one.
export interface Migration {
  version: number;
  sql: string;
}
