/** Third-party protocol description, as `GET /thirdparty/protocol/{protocol}` returns it. */
export interface ThirdPartyProtocol {
  user_fields: string[];
  location_fields: string[];
  icon: string;
  field_types: Record<string, { regexp: string; placeholder: string }>;
  instances: Array<{ desc: string; icon?: string; fields: Record<string, string>; network_id: string }>;
}

export interface ThirdPartyUser {
  userid: string;
  protocol: string;
  fields: Record<string, string>;
}

export interface ThirdPartyLocation {
  alias: string;
  protocol: string;
  fields: Record<string, string>;
}
