//! The Japanese step of the multilingual front end on each line of stdin: lower-case + NFKD, then
//! kanji → hiragana (IPADIC readings). Prints one line per input line (NFKD, as the tokenizer sees it).
//!
//!     echo 今日は良い天気ですね | cargo run --release -p chatterbox --example ja_kana

use std::io::BufRead;

use chatterbox::text::{hiragana_normalize, lower_nfkd};

fn main() {
    for line in std::io::stdin().lock().lines().map_while(Result::ok) {
        println!("{}", hiragana_normalize(&lower_nfkd(&line)));
    }
}
