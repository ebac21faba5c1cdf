#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| superdynamic::fuzzing::callback_query(data));
