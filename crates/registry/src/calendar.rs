//! Calendar dates in UTC (`YYYY-MM-DD`): parsing with a real-date check, today, and month boundaries, without a date library.
//!
//! Days are counted from 1970-01-01 with the proleptic Gregorian calendar
//! (Howard Hinnant's `days_from_civil` / `civil_from_days`), which is all
//! the host needs: due dates of implementation milestones and month ends
//! of the business figures.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The first year a date may have.
pub const MIN_YEAR: u32 = 1970;
/// The last year a date may have.
pub const MAX_YEAR: u32 = 9999;

const MS_PER_DAY: u64 = 86_400_000;

/// A day of the calendar, in UTC. Orders by time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date {
    year: u32,
    month: u32,
    day: u32,
}

/// Whether `year` has a 29 February.
fn is_leap(year: u32) -> bool {
    (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400)
}

/// How many days `month` of `year` has.
fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap(year) => 29,
        2 => 28,
        _ => 0,
    }
}

/// Days from 1970-01-01 to `year-month-day` (a valid date from 1970 on).
fn days_from_civil(year: u32, month: u32, day: u32) -> u64 {
    let year = i64::from(year) - i64::from(month <= 2);
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month = i64::from(month);
    let day_of_year = (153 * (if month > 2 { month - 3 } else { month + 9 }) + 2) / 5 + i64::from(day) - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    u64::try_from(era * 146_097 + day_of_era - 719_468).unwrap_or(0)
}

/// The date `days` after 1970-01-01.
fn civil_from_days(days: u64) -> Date {
    let days = i64::try_from(days).unwrap_or(i64::MAX / 2) + 719_468;
    let era = days.div_euclid(146_097);
    let day_of_era = days - era * 146_097;
    let year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let shifted_month = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * shifted_month + 2) / 5 + 1;
    let month = if shifted_month < 10 {
        shifted_month + 3
    } else {
        shifted_month - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    Date {
        year: u32::try_from(year).unwrap_or(MAX_YEAR),
        month: u32::try_from(month).unwrap_or(1),
        day: u32::try_from(day).unwrap_or(1),
    }
}

impl Date {
    /// `text` as a date, if it is exactly `YYYY-MM-DD` naming a real day
    /// from [`MIN_YEAR`] to [`MAX_YEAR`] (`2026-02-29` is not one).
    pub fn parse(text: &str) -> Option<Self> {
        let bytes = text.as_bytes();
        let shaped = bytes.len() == 10
            && bytes[4] == b'-'
            && bytes[7] == b'-'
            && bytes
                .iter()
                .enumerate()
                .all(|(index, byte)| index == 4 || index == 7 || byte.is_ascii_digit());
        if !shaped {
            return None;
        }
        let number = |range: std::ops::Range<usize>| text.get(range)?.parse::<u32>().ok();
        let (year, month, day) = (number(0..4)?, number(5..7)?, number(8..10)?);
        let valid = (MIN_YEAR..=MAX_YEAR).contains(&year)
            && (1..=12).contains(&month)
            && (1..=days_in_month(year, month)).contains(&day);
        valid.then_some(Self { year, month, day })
    }

    /// The day (UTC) of a time in ms since the Unix epoch.
    pub fn from_unix_ms(ms: u64) -> Self {
        civil_from_days(ms / MS_PER_DAY)
    }

    /// Today, in UTC.
    pub fn today() -> Self {
        Self::from_unix_ms(crate::model::now_ms())
    }

    /// The year.
    pub fn year(self) -> u32 {
        self.year
    }

    /// The month, 1 to 12.
    pub fn month(self) -> u32 {
        self.month
    }

    /// The day of the month, 1 to 31.
    pub fn day(self) -> u32 {
        self.day
    }

    /// The first day of the month `months` before this date's month.
    pub fn months_back(self, months: u32) -> Self {
        let index = (self.year * 12 + self.month - 1).saturating_sub(months);
        Self {
            year: (index / 12).max(MIN_YEAR),
            month: if index / 12 < MIN_YEAR { 1 } else { index % 12 + 1 },
            day: 1,
        }
    }

    /// The first moment (ms since the Unix epoch) of the month after this date's month.
    pub fn next_month_start_ms(self) -> u64 {
        let (year, month) = if self.month == 12 {
            (self.year + 1, 1)
        } else {
            (self.year, self.month + 1)
        };
        days_from_civil(year, month, 1) * MS_PER_DAY
    }

    /// The month as `YYYY-MM`.
    pub fn month_label(self) -> String {
        format!("{:04}-{:02}", self.year, self.month)
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

impl Serialize for Date {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Date {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Self::parse(&text).ok_or_else(|| {
            serde::de::Error::custom(format!("`{text}` is not a real date in the form YYYY-MM-DD"))
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use super::*;

    #[test]
    fn only_real_dates_in_the_one_form_parse() {
        assert_eq!(Date::parse("2024-02-29").unwrap().to_string(), "2024-02-29");
        assert_eq!(Date::parse("2000-02-29").unwrap().day(), 29);
        for bad in [
            "2026-02-29",
            "1900-02-29",
            "2026-13-01",
            "2026-00-10",
            "2026-04-31",
            "2026-4-01",
            "26-04-01",
            "2026/04/01",
            "2026-04-01 ",
            "+026-04-01",
            "1969-12-31",
            "",
        ] {
            assert_eq!(Date::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn days_and_dates_agree() {
        assert_eq!(Date::from_unix_ms(0).to_string(), "1970-01-01");
        assert_eq!(Date::from_unix_ms(951_782_400_000).to_string(), "2000-02-29");
        assert_eq!(Date::from_unix_ms(1_767_225_599_999).to_string(), "2025-12-31");
        assert_eq!(Date::from_unix_ms(1_767_225_600_000).to_string(), "2026-01-01");
        for days in (0..40_000).step_by(7) {
            let date = civil_from_days(days);
            assert_eq!(days_from_civil(date.year, date.month, date.day), days);
        }
        let december = Date::parse("2025-12-15").unwrap();
        assert_eq!(december.next_month_start_ms(), 1_767_225_600_000);
        assert_eq!(december.months_back(11).month_label(), "2025-01");
        assert_eq!(december.months_back(12).month_label(), "2024-12");
        assert_eq!(
            Date::parse("1970-03-01").unwrap().months_back(5).month_label(),
            "1970-01"
        );
    }
}
