//! English number words, the subset of num2words that misaki's number reading uses: cardinal,
//! ordinal, year and decimal (hibari `g2p/numbers.py`). Word lists only; the caller splits on
//! non-letters.

const ONES: [&str; 20] = [
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
];
const TENS: [&str; 10] = [
    "", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety",
];
const SCALES: [&str; 12] = [
    "",
    "thousand",
    "million",
    "billion",
    "trillion",
    "quadrillion",
    "quintillion",
    "sextillion",
    "septillion",
    "octillion",
    "nonillion",
    "decillion",
];

fn below_1000(mut n: u128) -> Vec<String> {
    let mut words = Vec::new();
    if n >= 100 {
        words.push(ONES[(n / 100) as usize].to_string());
        words.push("hundred".to_string());
        n %= 100;
        if n > 0 {
            words.push("and".to_string());
        }
    }
    if n >= 20 {
        let mut word = TENS[(n / 10) as usize].to_string();
        if !n.is_multiple_of(10) {
            word.push('-');
            word.push_str(ONES[(n % 10) as usize]);
        }
        words.push(word);
    } else if n > 0 || words.is_empty() {
        words.push(ONES[n as usize].to_string());
    }
    words
}

/// num2words(n): "one thousand, two hundred and thirty-four". Numbers beyond the scale
/// table read their top group with a blank scale name, as Python would fail to; they never
/// reach here from text (the callers cap digit runs).
pub(crate) fn cardinal(n: i128) -> String {
    if n < 0 {
        return format!("minus {}", cardinal(-n));
    }
    let mut n = n as u128;
    if n < 1000 {
        return below_1000(n).join(" ");
    }
    let mut groups = Vec::new();
    let mut scale = 0;
    while n > 0 {
        let g = n % 1000;
        n /= 1000;
        if g > 0 {
            let mut group = below_1000(g).join(" ");
            if scale > 0 {
                group.push(' ');
                group.push_str(SCALES.get(scale).copied().unwrap_or(""));
            }
            groups.push(group);
        }
        scale += 1;
    }
    groups.reverse();
    let last = &groups[groups.len() - 1];
    let tail = last.rsplit(" and ").next().unwrap_or(last);
    if groups.len() > 1 && !tail.contains(' ') && !last.contains("hundred") {
        // "one thousand and one"
        return format!("{} and {}", groups[..groups.len() - 1].join(", "), last);
    }
    groups.join(", ")
}

/// num2words(n, to='ordinal'): "twenty-third", "one hundred and first", "thousandth".
pub(crate) fn ordinal(n: i128) -> String {
    let c = cardinal(n);
    let (head, last) = match c.rfind(' ') {
        Some(i) => (&c[..=i], &c[i + 1..]),
        None => ("", c.as_str()),
    };
    let last = match last.rfind('-') {
        Some(i) => format!("{}-{}", &last[..i], ord_word(&last[i + 1..])),
        None => ord_word(last),
    };
    format!("{head}{last}")
}

fn ord_word(w: &str) -> String {
    let irregular = match w {
        "one" => "first",
        "two" => "second",
        "three" => "third",
        "five" => "fifth",
        "eight" => "eighth",
        "nine" => "ninth",
        "twelve" => "twelfth",
        _ => "",
    };
    if !irregular.is_empty() {
        irregular.to_string()
    } else if let Some(stem) = w.strip_suffix('y') {
        format!("{stem}ieth")
    } else {
        format!("{w}th")
    }
}

/// num2words(n, to='year'): "nineteen oh-five", "two thousand and five", "twenty ten".
pub(crate) fn year(n: i128) -> String {
    let (high, low) = (n.div_euclid(100), n.rem_euclid(100));
    if high == 0 || (high % 10 == 0 && low < 10) || high >= 100 {
        return cardinal(n);
    }
    let low_text = if low == 0 {
        "hundred".to_string()
    } else if low < 10 {
        format!("oh-{}", cardinal(low))
    } else {
        cardinal(low)
    };
    format!("{} {low_text}", cardinal(high))
}

/// num2words(float(s)): "3.14" -> "three point one four"; trailing zeros go as float() drops
/// them. `s` is digits with at most one '.'.
pub(crate) fn decimal(s: &str) -> String {
    let (ip, fp) = s.split_once('.').unwrap_or((s, ""));
    let fp = fp.trim_end_matches('0');
    let mut words = cardinal(parse_int(ip));
    if !fp.is_empty() {
        words.push_str(" point ");
        let digits: Vec<&str> = fp
            .chars()
            .filter_map(|c| c.to_digit(10).map(|d| ONES[d as usize]))
            .collect();
        words.push_str(&digits.join(" "));
    }
    words
}

/// Python's int() on a digit run: empty is 0 here (callers treat "" as 0), overlong runs
/// saturate rather than fail.
pub(crate) fn parse_int(s: &str) -> i128 {
    if s.is_empty() {
        return 0;
    }
    s.parse().unwrap_or(i128::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cardinals_read_like_num2words() {
        assert_eq!(cardinal(0), "zero");
        assert_eq!(cardinal(42), "forty-two");
        assert_eq!(cardinal(101), "one hundred and one");
        assert_eq!(cardinal(1001), "one thousand and one");
        assert_eq!(cardinal(1234), "one thousand, two hundred and thirty-four");
        assert_eq!(cardinal(1_000_000), "one million");
        assert_eq!(cardinal(2_000_020), "two million and twenty");
        assert_eq!(cardinal(-5), "minus five");
    }

    #[test]
    fn ordinals_years_and_decimals() {
        assert_eq!(ordinal(1), "first");
        assert_eq!(ordinal(23), "twenty-third");
        assert_eq!(ordinal(101), "one hundred and first");
        assert_eq!(ordinal(1000), "one thousandth");
        assert_eq!(ordinal(20), "twentieth");
        assert_eq!(year(1987), "nineteen eighty-seven");
        assert_eq!(year(1905), "nineteen oh-five");
        assert_eq!(year(2005), "two thousand and five");
        assert_eq!(year(2010), "twenty ten");
        assert_eq!(year(1800), "eighteen hundred");
        assert_eq!(decimal("3.140"), "three point one four");
        assert_eq!(decimal("2.0"), "two");
    }
}
