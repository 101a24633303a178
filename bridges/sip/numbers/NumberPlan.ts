// Phone numbers as people and SIP headers write them, made E.164 (libphonenumber-js, full metadata so a
// number's kind, e.g. premium rate, is known): "(415) 555-0100" in the US, "030 123456" in Germany,
// "0049 30 123456" and "+49 30 123456" anywhere all become one canonical number and one ghost.
import { getCountryCallingCode, isSupportedCountry, parsePhoneNumberFromString, type CountryCode, type NumberType } from 'libphonenumber-js/max';

export interface PhoneNumber {
  /** `+14155550100`. */
  e164: string;
  /** `+1 415 555 0100`. */
  international: string;
  /** The number's country, when its digits say. */
  country: string | undefined;
  /** Its kind (`PREMIUM_RATE`, `TOLL_FREE`, `MOBILE`, ...) when the metadata knows it. */
  type: NumberType | undefined;
}

export type NumberFormat = 'e164' | 'e164_no_plus' | 'national';

// What people put between digits; anything else (letters, quotes, CR/LF) makes it no number.
const SEPARATORS = /[\s().\-/]/g;
const DIALLED = /^\+?[0-9]{2,17}$/;

export class NumberPlan {
  readonly region: CountryCode;

  constructor(region: string) {
    if (!isSupportedCountry(region)) throw new Error(`bridges.sip.default_region: ${region} is not a country code libphonenumber knows. Fix: use a two-letter ISO code such as US or DE`);
    this.region = region;
  }

  /**
   * The E.164 number written in `text` (national digits in the default region, a `+` or `00` prefix,
   * the region's own international prefix such as 011), or null when it is no possible number.
   */
  parse(text: string): PhoneNumber | null {
    let digits = text.trim().replace(/^tel:/i, '').replace(SEPARATORS, '');
    if (!DIALLED.test(digits)) return null;
    if (digits.startsWith('00')) digits = `+${digits.slice(2)}`;
    const parsed = parsePhoneNumberFromString(digits, this.region);
    if (!parsed || !parsed.isPossible()) return null;
    return {
      e164: parsed.number,
      international: parsed.formatInternational(),
      country: parsed.country,
      type: parsed.isValid() ? parsed.getType() : undefined,
    };
  }

  /** Whether an E.164 number belongs to the default region's country calling code. */
  isNational(number: PhoneNumber): boolean {
    return parsePhoneNumberFromString(number.e164)?.countryCallingCode === getCountryCallingCode(this.region);
  }

  /** How a number is written in a dialled SIP URI's user part. */
  format(number: PhoneNumber, format: NumberFormat): string {
    if (format === 'e164') return number.e164;
    if (format === 'e164_no_plus') return number.e164.slice(1);
    const parsed = parsePhoneNumberFromString(number.e164);
    // Numbers abroad keep their international form: a national format has no way to say the country.
    if (!parsed || !this.isNational(number)) return number.e164;
    return parsed.formatNational().replace(SEPARATORS, '');
  }
}
