module example.com/cornershop

go 1.22
