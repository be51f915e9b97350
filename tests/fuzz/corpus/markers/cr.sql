SELECT 1;-- Down Migration
