"""Published methodology versions, one JSON file each (a package so that wheels ship the data)."""
