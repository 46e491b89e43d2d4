# The shopper's pages, in English. Every key here must exist in ../ru/shop.ftl too (a test checks).
shop-name = Shopkeeper
nav-skip = Skip to content
nav-label = Main
nav-cart = Cart
nav-orders = My orders
nav-profile = Profile
nav-admin = Admin
nav-logout = Log out
nav-login = Log in
nav-register = Register
nav-api = API documentation
optional = optional
yes = yes
no = no

error-status = Error { $status }
error-home = Back to the shop
error-forbidden = You do not have access to this page.
error-csrf = This form has expired. Go back, reload the page and try again.
error-unavailable = This part of the shop is unavailable right now. Please try again in a moment.
error-not-found = There is nothing at this address.
error-throttled = Too many attempts. Wait a minute and try again.
error-invalid = That request could not be understood.

home-title = Products
filter-search = Search
filter-search-placeholder = Name, description or SKU
filter-category = Category
filter-category-all = All categories
filter-price-min = Price from
filter-price-max = Price to
filter-in-stock = In stock only
filter-sort = Sort by
filter-per-page = Per page
filter-apply = Show
sort-relevance = Relevance
sort-newest = Newest
sort-price-asc = Price: low to high
sort-price-desc = Price: high to low
sort-name = Name
home-unavailable = The catalog is unavailable right now. Please try again in a moment.
home-empty = The shop has no products yet.
home-nothing-found = Nothing matches these filters.
home-clear-filters = Clear the filters
home-bad-filter = These filters cannot be used: check the prices.
home-found = { $count ->
    [one] { $count } product
   *[other] { $count } products
}
home-found-more = More than { $count } products
stock-in = In stock
stock-low = { $count ->
    [one] Only { $count } left
   *[other] Only { $count } left
}
stock-out = Out of stock
pages-label = Pages
pages-prev = Previous
pages-next = Next
pages-of = Page

product-back = ← All products
product-qty = Quantity
product-add = Add to cart
product-attributes = Details
product-sku = SKU
product-no-image = No photo yet

login-title = Log in
login-submit = Log in
login-no-account = No account yet?
login-error-credentials = Wrong email or password.
login-error-throttled = Too many attempts. Wait a minute and try again.
login-error-expired = The form expired. Please try again.
login-error-unavailable = Signing in is unavailable right now. Please try again shortly.
field-email = Email
field-password = Password
field-name = Name
field-phone = Phone
field-address = Delivery address
field-current-password = Current password
field-new-password = New password

register-title = Create an account
register-submit = Create the account
register-have-account = Already have an account?
register-password-hint = 8 to 128 characters; not your email, not a common password.
rule-email-empty = Enter your email address.
rule-email-invalid = This does not look like an email address (name@example.com).
rule-email-taken = An account with this email already exists. Log in instead?
rule-password-short = The password must be at least 8 characters long.
rule-password-long = The password must be at most 128 characters long.
rule-password-email = The password must not be your email address.
rule-password-common = This password is too common or too simple. Choose another.
rule-current-password = This is not your current password.
rule-control = Only printable characters, please.
rule-phone = Enter a phone number: 5 to 15 digits, optionally starting with +.
rule-too-long = This is too long.
rule-empty = This must not be empty.
rule-invalid = This value is not valid.

profile-title = Profile
profile-plan = Plan
plan-free = Free
plan-premium = Premium
profile-plan-until = until
profile-details = Contact details
profile-save = Save
profile-password = Password
profile-change-password = Change the password

cart-title = Cart
cart-empty = Your cart is empty.
cart-browse = Browse the products
cart-image = Image
cart-product = Product
cart-price = Price
cart-qty = Quantity
cart-line-total = Sum
cart-actions = Actions
cart-update = Update
cart-remove = Remove
cart-price-changed = The price changed since you added it
cart-out-of-stock = Out of stock now: remove it to check out.
cart-only-left = { $count ->
    [one] Only { $count } left: lower the quantity to check out.
   *[other] Only { $count } left: lower the quantity to check out.
}
cart-total = { $count ->
    [one] Total for { $count } item
   *[other] Total for { $count } items
}
cart-fix-first = Some items are not available in these quantities. Change them to check out.
cart-checkout = Place the order

orders-title = My orders
orders-none = You have no orders yet.
order-title = Order
order-back = ← My orders
order-number = Order
order-date = Date
order-status = Status
order-total = Total
status-pending = Being confirmed
status-placed = Placed
status-rejected = Rejected
status-canceled = Canceled
order-rejected = This order could not be placed.
order-rejected-stock = This order could not be placed: not enough stock for
order-short-requested = { $count } wanted
order-short-available = { $count } available
order-back-to-cart = Back to the cart
order-cancel = Cancel the order
order-cancel-question = Cancel this order? The items go back on sale.
order-cancel-confirm = Yes, cancel it
order-cancel-keep = No, keep it

notice-added = Added to your cart.
notice-updated = Your cart is updated.
notice-bad-quantity = Enter a quantity from 1 to 99.
notice-not-enough-stock = There is not enough stock for that quantity.
notice-cart-changed = Your cart changed since you opened it. Check it and place the order again.
notice-cart-empty = Your cart is empty.
notice-not-sold = Some items are no longer sold. Remove them and try again.
notice-checkout-placed = Thank you! Your order is placed.
notice-checkout-pending = Your order is being confirmed; this page will show the outcome shortly.
notice-canceled = The order is canceled.
notice-not-cancelable = This order can no longer be canceled.
notice-profile-saved = Your details are saved.
notice-password-changed = Your password is changed. Other devices are signed out.

admin-title = Admin
