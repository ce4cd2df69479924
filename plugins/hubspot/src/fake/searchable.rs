//! HubSpot's derived phone properties, computed as HubSpot is observed to
//! compute them (reference §1.3): digits only; when the number can be read
//! with a country (a leading `+`, or a valid national number of the
//! portal's region), the national significant number (no country code, no
//! trunk `0`); otherwise the digits without leading zeros.

use phonenumber::Mode;
use phonenumber::country::Id as CountryId;

/// The calculated values of one stored number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Calculated {
    /// `hs_calculated_*`: E.164 when the number could be read, else absent.
    pub e164: Option<String>,
    /// `hs_searchable_calculated_*`.
    pub searchable: String,
}

pub fn calculate(stored: &str, portal_region: CountryId) -> Option<Calculated> {
    let digits: String = stored.chars().filter(char::is_ascii_digit).collect();
    if digits.is_empty() {
        return None;
    }
    let parsed = if stored.trim_start().starts_with('+') {
        phonenumber::parse(None, format!("+{digits}"))
    } else {
        phonenumber::parse(Some(portal_region), &digits)
    };
    match parsed {
        Ok(number) if phonenumber::is_valid(&number) => Some(Calculated {
            e164: Some(number.format().mode(Mode::E164).to_string()),
            searchable: number.national().value().to_string(),
        }),
        _ => {
            let stripped = digits.trim_start_matches('0');
            Some(Calculated {
                e164: None,
                searchable: if stripped.is_empty() {
                    "0".into()
                } else {
                    stripped.into()
                },
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn searchable(stored: &str, region: CountryId) -> String {
        calculate(stored, region)
            .map(|c| c.searchable)
            .unwrap_or_default()
    }

    #[test]
    fn matches_the_values_observed_in_real_responses() {
        let us = CountryId::US;
        assert_eq!(searchable("+33655555555", us), "655555555");
        assert_eq!(searchable("+5511999999999", us), "11999999999");
        assert_eq!(searchable("513-227-1572", us), "5132271572");
        assert_eq!(searchable("7087038093", us), "7087038093");
        assert_eq!(searchable("08180854296", us), "8180854296");
        assert_eq!(searchable("(877) 829-06966777", us), "87782906966777");
        assert_eq!(searchable("00004", us), "4");
        assert_eq!(searchable("123456", us), "123456");
        assert_eq!(
            calculate("513-227-1572", us).and_then(|c| c.e164),
            Some("+15132271572".into())
        );
    }

    #[test]
    fn ukrainian_spellings_in_a_us_and_a_ukrainian_portal() {
        for region in [CountryId::US, CountryId::UA] {
            assert_eq!(searchable("+380 (67) 123-45-67", region), "671234567");
            assert_eq!(searchable("+380671234567", region), "671234567");
            assert_eq!(searchable("067 123 45 67", region), "671234567");
        }
        assert_eq!(searchable("380671234567", CountryId::US), "380671234567");
        // A Ukrainian portal reads its own country code without the `+`.
        assert_eq!(searchable("380671234567", CountryId::UA), "671234567");
        assert_eq!(searchable("0501112233", CountryId::UA), "501112233");
    }
}
