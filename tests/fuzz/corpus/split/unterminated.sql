SELECT 'never closed;
SELECT $x$ also ; open
