//! `get_weather`: fake but stable weather, derived from a hash of the location.

use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

#[derive(Debug, Clone, Copy, Default, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Units {
    #[default]
    Celsius,
    Fahrenheit,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct WeatherArgs {
    /// City or place name, e.g. "Paris".
    pub location: String,
    /// "celsius" (default) or "fahrenheit".
    #[serde(default)]
    pub units: Option<Units>,
}

const CONDITIONS: [&str; 8] =
    ["sunny", "partly cloudy", "cloudy", "light rain", "heavy rain", "thunderstorms", "snow", "fog"];

#[derive(Debug, Clone, PartialEq)]
pub struct WeatherReport {
    pub location: String,
    pub temperature: f64,
    pub units: Units,
    pub conditions: &'static str,
    pub humidity_percent: u8,
    pub wind_kph: u8,
}

impl WeatherReport {
    pub fn summary(&self) -> String {
        let unit = match self.units {
            Units::Celsius => "°C",
            Units::Fahrenheit => "°F",
        };
        format!(
            "Weather in {}: {:.1}{unit}, {}, humidity {}%, wind {} km/h",
            self.location, self.temperature, self.conditions, self.humidity_percent, self.wind_kph
        )
    }

    pub fn to_json(&self) -> Value {
        json!({
            "location": self.location,
            "temperature": self.temperature,
            "units": match self.units { Units::Celsius => "celsius", Units::Fahrenheit => "fahrenheit" },
            "conditions": self.conditions,
            "humidity_percent": self.humidity_percent,
            "wind_kph": self.wind_kph,
        })
    }
}

pub fn report(args: &WeatherArgs) -> Result<WeatherReport, String> {
    let location = args.location.trim();
    if location.is_empty() {
        return Err("location must not be empty".into());
    }
    if location.chars().count() > 200 {
        return Err("location is too long (at most 200 characters)".into());
    }
    let digest = Sha256::digest(location.to_lowercase().as_bytes());
    let b = |i: usize| digest.get(i).copied().unwrap_or(0);
    // -10.0 ..= 35.9 °C
    let celsius = f64::from(b(0) % 46) - 10.0 + f64::from(b(1) % 10) / 10.0;
    let units = args.units.unwrap_or_default();
    let temperature = match units {
        Units::Celsius => celsius,
        Units::Fahrenheit => celsius * 9.0 / 5.0 + 32.0,
    };
    Ok(WeatherReport {
        location: location.to_owned(),
        temperature: (temperature * 10.0).round() / 10.0,
        units,
        conditions: CONDITIONS[usize::from(b(2)) % CONDITIONS.len()],
        humidity_percent: 20 + b(3) % 71,
        wind_kph: b(4) % 60,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_and_unit_conversion() {
        let c = report(&WeatherArgs { location: "Paris".into(), units: None }).unwrap();
        let again = report(&WeatherArgs { location: " paris ".into(), units: Some(Units::Celsius) }).unwrap();
        assert_eq!(c.temperature, again.temperature);
        assert_eq!(c.conditions, again.conditions);
        let f = report(&WeatherArgs { location: "Paris".into(), units: Some(Units::Fahrenheit) }).unwrap();
        assert!((f.temperature - (c.temperature * 9.0 / 5.0 + 32.0)).abs() < 0.11);
        assert!(report(&WeatherArgs { location: "  ".into(), units: None }).is_err());
    }
}
