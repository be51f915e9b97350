SELECT 'it''s;', E'\';x', U&'d\0061t;a', U&"x;", B'01', X'1f', N'n;', "q;""q";
/* a /* nested; */ comment; */ SELECT 1; -- tail;
