#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| superdynamic::fuzzing::token_response(data));
