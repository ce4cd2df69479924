//! Phone numbers: one client, one number, however it was typed.
//!
//! Ringostat sends `380…`, `+380…`, `"name" <380…>` or a SIP login; people type
//! `067 123 45 67` or `+380 (67) 123-45-67` into the CRM. Everything that reaches
//! the core as a client number is an [`E164`], produced only by [`E164::parse`], so
//! two spellings of the same number can never become two clients.
//!
//! Parsing never invents a number: a SIP login, an extension (`101`) or anything
//! the `phonenumber` metadata does not accept as a valid number is a
//! [`PhoneError`], and the caller keeps the raw value for the record.

use std::fmt;
use std::str::FromStr;

use phonenumber::country::Id as CountryId;
use phonenumber::{Mode, PhoneNumber};
use serde::{Deserialize, Serialize};

/// Why a raw value is not a usable phone number.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PhoneError {
    #[error("empty phone number")]
    Empty,
    #[error("{0:?} is not a phone number (looks like a SIP login or a name)")]
    NotANumber(String),
    #[error("{0:?} has too few digits to be a phone number (an extension?)")]
    TooShort(String),
    #[error("{0:?} is not a valid phone number")]
    Invalid(String),
}

/// Unknown region code in configuration (`phone.default_region`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown region {0:?}: expected a two-letter ISO 3166 code such as UA, PL or US")]
pub struct UnknownRegion(pub String);

/// The region used to read numbers written without a country code (`067…`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Region(CountryId);

impl Region {
    /// The ISO 3166 alpha-2 code, e.g. `UA`.
    pub fn code(&self) -> &str {
        self.0.as_ref()
    }
}

impl Default for Region {
    fn default() -> Self {
        Region(CountryId::UA)
    }
}

impl FromStr for Region {
    type Err = UnknownRegion;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let upper = s.trim().to_ascii_uppercase();
        upper
            .parse::<CountryId>()
            .map(Region)
            .map_err(|_| UnknownRegion(s.to_string()))
    }
}

impl fmt::Display for Region {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// A valid phone number in E.164 form (`+380671234567`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct E164(String);

/// Fewer digits than this is an extension or a short code, never a client.
const MIN_DIGITS: usize = 7;
/// E.164 allows at most 15 digits; two more for a `00` or trunk prefix.
const MAX_DIGITS: usize = 15;

impl E164 {
    /// Parses anything Ringostat or a person may have written, reading numbers
    /// without a country code in `region`.
    ///
    /// Accepted: `380671234567`, `+380671234567`, `00380671234567`,
    /// `0671234567`, `671234567`, `"Name" <380671234567>`, and the same with
    /// spaces, dashes, dots and brackets.
    pub fn parse(raw: &str, region: Region) -> Result<E164, PhoneError> {
        let inner = strip_display_name(raw.trim());
        if inner.is_empty() {
            return Err(PhoneError::Empty);
        }
        if inner
            .chars()
            .any(|c| !(c.is_ascii_digit() || "+-() ./".contains(c)))
        {
            return Err(PhoneError::NotANumber(raw.to_string()));
        }
        let digits: String = inner.chars().filter(char::is_ascii_digit).collect();
        if digits.len() < MIN_DIGITS {
            return Err(PhoneError::TooShort(raw.to_string()));
        }
        if digits.len() > MAX_DIGITS + 2 {
            return Err(PhoneError::Invalid(raw.to_string()));
        }
        let candidates: Vec<String> = if inner.starts_with('+') {
            vec![format!("+{digits}")]
        } else if let Some(rest) = digits.strip_prefix("00") {
            vec![format!("+{rest}")]
        } else {
            // National reading first (so `671234567` is Ukrainian in region UA),
            // then the digits as an international number without its `+`
            // (Ringostat's own `380671234567`, or `48512345678` from Poland).
            vec![digits.clone(), format!("+{digits}")]
        };
        for candidate in &candidates {
            if let Ok(number) = phonenumber::parse(Some(region.0), candidate)
                && phonenumber::is_valid(&number)
            {
                return Ok(E164::from_number(&number));
            }
        }
        Err(PhoneError::Invalid(raw.to_string()))
    }

    fn from_number(number: &PhoneNumber) -> E164 {
        E164(number.format().mode(Mode::E164).to_string())
    }

    /// The number with its `+`, e.g. `+380671234567`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The digits without `+`: Ringostat's own spelling (`380671234567`).
    pub fn digits(&self) -> &str {
        &self.0[1..]
    }

    /// The country calling code, e.g. `380`.
    pub fn country_code(&self) -> u16 {
        self.parsed().map(|n| n.code().value()).unwrap_or(0)
    }

    /// The national significant number: no country code, no trunk `0`
    /// (`671234567`). This is what HubSpot's `hs_searchable_calculated_*`
    /// properties hold.
    pub fn national_number(&self) -> String {
        match self.parsed() {
            Some(n) => n.national().value().to_string(),
            None => self.digits().to_string(),
        }
    }

    /// The national format with trunk prefix, as people in the country write it
    /// (`067 123 4567`).
    pub fn national_format(&self) -> String {
        match self.parsed() {
            Some(n) => n.format().mode(Mode::National).to_string(),
            None => self.0.clone(),
        }
    }

    /// The international format with spaces (`+380 67 123 4567`), used for
    /// readable contact names.
    pub fn international_format(&self) -> String {
        match self.parsed() {
            Some(n) => n.format().mode(Mode::International).to_string(),
            None => self.0.clone(),
        }
    }

    /// The number with its middle hidden (`+38067*****67`), for info-level logs.
    pub fn masked(&self) -> String {
        mask(&self.0)
    }

    fn parsed(&self) -> Option<PhoneNumber> {
        phonenumber::parse(None, &self.0).ok()
    }
}

impl fmt::Display for E164 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<E164> for String {
    fn from(value: E164) -> Self {
        value.0
    }
}

impl TryFrom<String> for E164 {
    type Error = PhoneError;

    /// Accepts only values already in E.164 form, as stored by Switchboard.
    fn try_from(value: String) -> Result<Self, Self::Error> {
        if !value.starts_with('+') {
            return Err(PhoneError::Invalid(value));
        }
        let parsed = E164::parse(&value, Region::default())?;
        if parsed.0 == value {
            Ok(parsed)
        } else {
            Err(PhoneError::Invalid(value))
        }
    }
}

/// Hides the middle of anything number-like (keeps the first 6 and last 2
/// characters), for logs at info level. Short values are hidden entirely.
pub fn mask(value: &str) -> String {
    let chars: Vec<char> = value.chars().collect();
    if chars.len() <= 8 {
        return "*".repeat(chars.len());
    }
    let head: String = chars[..6].iter().collect();
    let tail: String = chars[chars.len() - 2..].iter().collect();
    format!("{head}{}{tail}", "*".repeat(chars.len() - 8))
}

/// `"Support PhonerLite" <380671234567>` → `380671234567`; anything without
/// angle brackets is returned as is.
fn strip_display_name(raw: &str) -> &str {
    match (raw.rfind('<'), raw.rfind('>')) {
        (Some(open), Some(close)) if open < close => raw[open + 1..close].trim(),
        _ => raw.trim_matches('"').trim(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ua(raw: &str) -> Result<E164, PhoneError> {
        E164::parse(raw, Region::default())
    }

    #[test]
    fn every_spelling_of_a_ukrainian_mobile_is_the_same_number() {
        let spellings = [
            "380671234567",
            "+380671234567",
            "00380671234567",
            "0671234567",
            "671234567",
            "067 123 45 67",
            "067-123-45-67",
            "(067) 123-45-67",
            "+380 (67) 123-45-67",
            "+38 067 123 45 67",
            "38 067 123 4567",
            "  +380671234567  ",
            "\"Support PhonerLite\" <380671234567>",
            "<+380671234567>",
            "067.123.45.67",
            "+380-67-123-45-67",
            "\"380671234567\"",
        ];
        for spelling in spellings {
            assert_eq!(
                ua(spelling).map(|p| p.to_string()),
                Ok("+380671234567".to_string()),
                "spelling {spelling:?}"
            );
        }
    }

    #[test]
    fn kyiv_landline_and_foreign_numbers() {
        let cases = [
            ("380441112233", "+380441112233"),
            ("044 111 22 33", "+380441112233"),
            ("+48 512 345 678", "+48512345678"),
            ("48512345678", "+48512345678"),
            ("0048512345678", "+48512345678"),
            ("+1 (513) 227-1572", "+15132271572"),
            ("+15132271572", "+15132271572"),
            ("+33 6 55 55 55 55", "+33655555555"),
            ("+49 30 1234567", "+49301234567"),
        ];
        for (raw, expected) in cases {
            assert_eq!(
                ua(raw).map(|p| p.to_string()),
                Ok(expected.to_string()),
                "{raw}"
            );
        }
    }

    #[test]
    fn region_decides_how_national_numbers_are_read() {
        let us: Region = "us".parse().expect("US is a region");
        assert_eq!(
            E164::parse("513-227-1572", us).map(|p| p.to_string()),
            Ok("+15132271572".into())
        );
        let pl: Region = "PL".parse().expect("PL is a region");
        assert_eq!(
            E164::parse("512 345 678", pl).map(|p| p.to_string()),
            Ok("+48512345678".into())
        );
        assert!("XX".parse::<Region>().is_err());
    }

    #[test]
    fn non_numbers_are_refused_not_invented() {
        assert!(matches!(
            ua("seventytimescom_matychyn"),
            Err(PhoneError::NotANumber(_))
        ));
        assert!(matches!(
            ua("\"acmecom_ivanenko\" <acmecom_ivanenko>"),
            Err(PhoneError::NotANumber(_))
        ));
        assert!(matches!(ua("101"), Err(PhoneError::TooShort(_))));
        assert!(matches!(ua(""), Err(PhoneError::Empty)));
        assert!(matches!(ua("   "), Err(PhoneError::Empty)));
        assert!(matches!(ua("anonymous"), Err(PhoneError::NotANumber(_))));
        assert!(matches!(ua("0000000000"), Err(PhoneError::Invalid(_))));
        assert!(matches!(
            ua("12345678901234567890"),
            Err(PhoneError::Invalid(_))
        ));
    }

    #[test]
    fn parts_of_a_number() {
        let n = ua("0671234567").expect("valid");
        assert_eq!(n.as_str(), "+380671234567");
        assert_eq!(n.digits(), "380671234567");
        assert_eq!(n.country_code(), 380);
        assert_eq!(n.national_number(), "671234567");
        assert_eq!(n.national_format(), "067 123 4567");
        assert_eq!(n.international_format(), "+380 67 123 4567");
        assert_eq!(n.masked(), "+38067*****67");
    }

    #[test]
    fn stored_form_round_trips_through_serde() {
        let n = ua("0671234567").expect("valid");
        let json = serde_json::to_string(&n).expect("serializes");
        assert_eq!(json, "\"+380671234567\"");
        let back: E164 = serde_json::from_str(&json).expect("deserializes");
        assert_eq!(back, n);
        assert!(serde_json::from_str::<E164>("\"0671234567\"").is_err());
    }

    #[test]
    fn masking_hides_the_middle() {
        assert_eq!(mask("380671234567"), "380671****67");
        assert_eq!(mask("12345"), "*****");
    }
}
