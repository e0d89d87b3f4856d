"""The booking-to-Teams bridge: everything the function does, independent of the Functions host."""
