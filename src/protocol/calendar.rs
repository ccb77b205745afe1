//! Dates and times in UTC, without a crate: std counts seconds since 1970
//! but knows no calendar. Used by the `date` and `time` replies and by the
//! HTTP `Date` header.

use std::time::{SystemTime, UNIX_EPOCH};

/// A moment in UTC, split into calendar fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DateTime {
    pub year: u64,
    /// 1 to 12.
    pub month: u64,
    /// 1 to 31.
    pub day: u64,
    /// 0 = Sunday to 6 = Saturday.
    pub weekday: u64,
    pub hour: u64,
    pub minute: u64,
    pub second: u64,
}

pub const WEEKDAYS: [&str; 7] = [
    "Sunday",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
];
const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

impl DateTime {
    pub fn from(now: SystemTime) -> DateTime {
        let secs = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        let days = secs / 86_400;
        let (year, month, day) = civil_from_days(days);
        DateTime {
            year,
            month,
            day,
            weekday: (days + 4) % 7, // 1970-01-01 was a Thursday
            hour: secs % 86_400 / 3600,
            minute: secs % 3600 / 60,
            second: secs % 60,
        }
    }

    /// `Wed, 25 Nov 2026 01:02:03 GMT`: the IMF-fixdate of RFC 9110 §5.6.7.
    pub(crate) fn http_date(&self) -> String {
        format!(
            "{}, {:02} {} {} {:02}:{:02}:{:02} GMT",
            &WEEKDAYS[self.weekday as usize][..3],
            self.day,
            MONTHS[self.month as usize - 1],
            self.year,
            self.hour,
            self.minute,
            self.second
        )
    }
}

/// Days since 1970-01-01 to (year, month, day) in the proleptic Gregorian
/// calendar. The calendar is counted from March, so that the leap day falls
/// at the end of the year, in 400-year eras of 146,097 days.
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468; // days from 0000-03-01 to 1970-01-01
    let era = z / 146_097;
    let day_of_era = z % 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_from_march = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_from_march + 2) / 5 + 1;
    let month = if month_from_march < 10 {
        month_from_march + 3
    } else {
        month_from_march - 9
    };
    let year = year_of_era + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn calendar_dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        assert_eq!(civil_from_days(11_017), (2000, 3, 1));
        assert_eq!(civil_from_days(19_782), (2024, 2, 29));
        assert_eq!(civil_from_days(20_782), (2026, 11, 25));
    }

    #[test]
    fn http_date_of_a_known_moment() {
        // 2026-11-25 01:02:03 UTC, a Wednesday.
        let moment = UNIX_EPOCH + Duration::from_secs(1_795_568_523);
        assert_eq!(
            DateTime::from(moment).http_date(),
            "Wed, 25 Nov 2026 01:02:03 GMT"
        );
        // RFC 9110's own example.
        let example = UNIX_EPOCH + Duration::from_secs(784_111_777);
        assert_eq!(
            DateTime::from(example).http_date(),
            "Sun, 06 Nov 1994 08:49:37 GMT"
        );
    }
}
