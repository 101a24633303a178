// Typed content of `m.room.message` events, as the spec defines the message types a bridge carries.
// Keys with a dot (`m.relates_to`, `org.example.extra`) are open for extensions; a typo in `body` or
// `msgtype` does not compile. Type aliases rather than interfaces, so any content is also a plain
// `Record<string, unknown>` where an intent wants one.

/** `m.relates_to`: a reply, an edit, a thread, a reaction. */
export type RelatesTo = {
  rel_type?: 'm.replace' | 'm.thread' | 'm.annotation' | 'm.reference';
  event_id?: string;
  /** The reaction's key (`m.annotation`). */
  key?: string;
  /** In a thread: the `m.in_reply_to` is only a fallback for clients without threads. */
  is_falling_back?: boolean;
  'm.in_reply_to'?: { event_id: string };
};

/** What every message has. */
type MessageBase = {
  /** The plain text (for a file: its name or a caption). */
  body: string;
  'm.relates_to'?: RelatesTo;
  /** Who the message mentions (MSC3952 intentional mentions). */
  'm.mentions'?: { user_ids?: string[]; room?: boolean };
  [extension: `${string}.${string}`]: unknown;
};

/** Formatted text: `format` and `formatted_body` go together. */
type Formatted = {
  format?: 'org.matrix.custom.html';
  formatted_body?: string;
};

export type TextContent = MessageBase &
  Formatted & {
    msgtype: 'm.text' | 'm.notice' | 'm.emote';
    /** An edit's replacement content (with `m.relates_to: { rel_type: 'm.replace' }`). */
    'm.new_content'?: TextContent;
  };

/** What the homeserver knows of a file (`info`). */
export type FileInfo = {
  mimetype?: string;
  /** Bytes. */
  size?: number;
  /** Images and videos, in pixels. */
  w?: number;
  h?: number;
  /** Audio and video, in milliseconds. */
  duration?: number;
  thumbnail_url?: string;
};

/** A file, image, sound or video: upload the bytes (`intent.uploadMedia`) and send the `mxc://` URI. */
export type FileContent = MessageBase &
  Formatted & {
    msgtype: 'm.image' | 'm.file' | 'm.audio' | 'm.video';
    /** The `mxc://` URI of the uploaded bytes. */
    url: string;
    /** The file's name, when `body` is a caption. */
    filename?: string;
    info?: FileInfo;
  };

export type LocationContent = MessageBase & {
  msgtype: 'm.location';
  /** `geo:37.786971,-122.399677`. */
  geo_uri: string;
};

/** The content of an `m.room.message` event. */
export type RoomMessageContent = TextContent | FileContent | LocationContent;

/** An event's content by its type: typed for `m.room.message`, open for any other type. */
export type ContentOf<T extends string> = string extends T ? Record<string, unknown> : T extends 'm.room.message' ? RoomMessageContent : Record<string, unknown>;
