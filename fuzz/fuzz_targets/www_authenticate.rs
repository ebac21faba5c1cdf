#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| superdynamic::fuzzing::www_authenticate(data));
